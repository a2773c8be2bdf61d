// Kept pages of a campaign's deliveries list (the campaign page's 投递明细, issue 25): a page of
// a campaign whose runs are all settled is kept, in the process and in `deliverypages`, under
// the campaign's generation (tracking/run-generation.ts), so a repeated call reads one `_id`
// document (the generation) instead of the run list, each run's status list and generation
// and every batch the page shows (50 commands a call for a province campaign at 50,000
// groups, growing with its failures' spread and its runs).
//
// Contract:
// - The generation is read BEFORE anything the page is computed from (the run list, the
//   status lists, the batches). Every writer that may change a batch of a settled run moves
//   the campaign's generation on before its write lands and again after it
//   (`runWriteStarting` / `runWriteDone`); a new run's first batches are listed with such a
//   bump too (run-batches.ts `listBatches`). So a page computed from what was read after the
//   generation is exact for as long as the generation is the one read, provided every run
//   was settled when read (a current status list; or no batch listed and the run skipped or
//   planned, so none can come): the builder says so (`keepable`), else nothing is kept and
//   every call reads as before (a run still sending changes its batches without a bump).
// - One document per page (`<campaignId>|<status>|<scope region>|<limit>`) holding the rows
//   and the generation they were read at; written after the page was read, in one write. A
//   process killed before that write leaves the previous document (read again by the next
//   caller because its generation is old) or none; two builders racing leave one of their
//   pages, each exact at its own generation. The rows are the list's rows (names, reasons,
//   times as the batches carried them), nothing more.
import mongoose from 'mongoose';
import { campaignGeneration } from '../run-generation.js';

const pageSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    gen: { type: Number, required: true },
    /** The rows as JSON (one string: FerretDB rewrites the whole document on update anyway). */
    rows: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

export const DeliveryPageModel = mongoose.model('DeliveryPage', pageSchema, 'deliverypages');

/** Rows a process keeps at most (~200 bytes each); past it all are forgotten (and read from `deliverypages`). */
const MAX_KEPT_ROWS = 20_000;

export interface PageKey {
  campaignId: string;
  status: string;
  scopeCode: string;
  limit: number;
}

/** What a builder read: the rows, and whether every run was settled so they may be kept. */
export interface BuiltPage<Row> {
  rows: Row[];
  keepable: boolean;
}

const keyOf = (key: PageKey) => `${key.campaignId}|${key.status}|${key.scopeCode}|${key.limit}`;

export class KeptDeliveryPages<Row extends { sentAt: Date | null }> {
  private readonly kept = new Map<string, { gen: number; rows: Row[] }>();
  private keptRows = 0;

  /**
   * The page: kept in the process or stored at the campaign's present generation, else built
   * (after the generation was read) and kept if the builder says every run was settled.
   * `generation`: the generation's read, when the caller started it already (it must have
   * been started before anything `build` reads).
   */
  async page(
    key: PageKey,
    build: () => Promise<BuiltPage<Row>>,
    generation: Promise<number> = campaignGeneration(key.campaignId),
  ): Promise<Row[]> {
    const id = keyOf(key);
    const gen = await generation;
    const held = this.kept.get(id);
    if (held && held.gen === gen) return held.rows;
    const stored = await DeliveryPageModel.findById(id, { gen: 1, rows: 1 }).lean<{ gen: number; rows: string }>();
    if (stored && stored.gen === gen) {
      const rows = (JSON.parse(stored.rows) as Row[]).map((row) => ({
        ...row,
        sentAt: row.sentAt === null ? null : new Date(row.sentAt),
      }));
      this.hold(id, gen, rows);
      return rows;
    }
    const built = await build();
    if (!built.keepable) return built.rows;
    this.hold(id, gen, built.rows);
    await DeliveryPageModel.updateOne(
      { _id: id },
      { $set: { gen, rows: JSON.stringify(built.rows), at: new Date() } },
      { upsert: true },
    );
    return built.rows;
  }

  private hold(id: string, gen: number, rows: Row[]): void {
    this.keptRows -= this.kept.get(id)?.rows.length ?? 0;
    if (this.keptRows + rows.length > MAX_KEPT_ROWS) {
      this.kept.clear();
      this.keptRows = 0;
    }
    this.kept.set(id, { gen, rows });
    this.keptRows += rows.length;
  }
}

/**
 * Retention (engine/retention.ts, its daily sweep): the kept pages not written since `before`.
 * A kept page is a copy of what its builder reads from the batches (which keep every field a
 * row shows, compacted or not), so a page deleted is built again, exactly, by its next reader;
 * one still kept in a process is checked against the generation as before. One delete by `at`
 * (a scan of the pages: bounded by the pages built within the keep period). A sweep killed
 * midway leaves pages that are as good as before. Returns the pages deleted.
 */
export async function pruneKeptPages(before: Date): Promise<number> {
  return (await DeliveryPageModel.deleteMany({ at: { $lt: before } })).deletedCount;
}
