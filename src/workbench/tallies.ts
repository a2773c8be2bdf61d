// The workbench's figures besides the open tasks, per region, computed once per change of
// their collection instead of a count per call (issue 25: on FerretDB 1.24 every count by
// scope read the whole collection; the province admin's first-day steps took ~10 s).
//
// Each tally is computed from one read of its collection (only the fields it needs) and kept
// per process while the collection's version token (db/versions.ts: changed after every write
// through mongoose) is the one read BEFORE that read; at most MAX_KEEP_MS in any case (a
// writer that died between its write and the token change). Every figure is kept per region
// code of the documents' paths, so a caller's scope is one map look-up. A missing token (no
// write since the tokens exist, and `prepareDatabase` not run) is never trusted.
import { GroupModel } from '../audience/model.js';
import { UserModel } from '../auth/model.js';
import { CampaignModel } from '../campaigns/model.js';
import { collectionToken } from '../db/versions.js';
import { NoticeModel } from '../notices/model.js';
import { TipModel } from '../tips/model.js';

/** A kept tally is read again after this long whatever its token says. */
export const MAX_KEEP_MS = 5 * 60_000;

/** The collections whose tokens the workbench reads (prepareDatabase gives each one). */
export const TALLIED_COLLECTIONS = ['notices', 'campaigns', 'tips', 'users', 'groups'] as const;

/** Counts per region code: every code of a document's path counts it once. */
type PerRegion<K extends string> = Map<string, Record<K, number>>;

function addTo<K extends string>(map: PerRegion<K>, path: readonly string[], key: K, keys: readonly K[]): void {
  for (const code of new Set(path)) {
    let row = map.get(code);
    if (!row) {
      row = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
      map.set(code, row);
    }
    row[key] += 1;
  }
}

/** One collection's tally, kept under its version token. */
class Kept<T> {
  private kept: { token: string; at: number; value: T } | null = null;
  private loading: { token: string | null; promise: Promise<T> } | null = null;

  constructor(
    private readonly name: string,
    private readonly load: () => Promise<T>,
  ) {}

  async get(): Promise<T> {
    const token = await collectionToken(this.name);
    const kept = this.kept;
    if (kept && token !== null && kept.token === token && Date.now() - kept.at < MAX_KEEP_MS) return kept.value;
    // Callers arriving while a read under the same token runs share it.
    if (this.loading && this.loading.token === token && token !== null) return this.loading.promise;
    const promise = this.load();
    this.loading = { token, promise };
    try {
      const value = await promise;
      if (token !== null) this.kept = { token, at: Date.now(), value };
      return value;
    } finally {
      if (this.loading?.promise === promise) this.loading = null;
    }
  }
}

const NOTICE_KEYS = ['all', 'inReview'] as const;
export interface NoticeTally {
  byRegion: PerRegion<(typeof NOTICE_KEYS)[number]>;
  /** Open wanted cases (approved, not retracted, no outcome yet): their path and deadline. */
  wanted: { path: string[]; deadline: string }[];
}

const CAMPAIGN_KEYS = ['inReview', 'closingFollowUps'] as const;
export type CampaignTally = PerRegion<(typeof CAMPAIGN_KEYS)[number]>;

export interface TipTally {
  /** New tips per region code. */
  byRegion: PerRegion<'fresh'>;
  /** New tips with a contact officer: their path, per contact. */
  byContact: Map<string, string[][]>;
}

export interface UserTally {
  byRegion: PerRegion<'all'>;
  pathOf: Map<string, string[]>;
}

const GROUP_KEYS = ['all', 'robots'] as const;
export type GroupTally = PerRegion<(typeof GROUP_KEYS)[number]>;

const CLOSING_OUTCOMES = new Set(['caught', 'solved', 'expired']);

export class WorkbenchTallies {
  readonly notices = new Kept<NoticeTally>('notices', async () => {
    const byRegion: NoticeTally['byRegion'] = new Map();
    const wanted: NoticeTally['wanted'] = [];
    const docs = await NoticeModel.find(
      {},
      { _id: 0, regionPath: 1, status: 1, retractedAt: 1, 'content.category': 1, 'content.wanted.deadline': 1, 'caseOutcomes': 1 },
    ).lean<
      {
        regionPath: string[];
        status: string;
        retractedAt?: Date | null;
        content?: { category?: string; wanted?: { deadline?: string } | null };
        caseOutcomes?: unknown[];
      }[]
    >();
    for (const doc of docs) {
      addTo(byRegion, doc.regionPath, 'all', NOTICE_KEYS);
      if (doc.status === 'in_review') addTo(byRegion, doc.regionPath, 'inReview', NOTICE_KEYS);
      const deadline = doc.content?.wanted?.deadline;
      if (
        doc.content?.category === 'wanted_clue' &&
        doc.status === 'approved' &&
        !doc.retractedAt &&
        (doc.caseOutcomes?.length ?? 0) === 0 &&
        typeof deadline === 'string'
      ) {
        wanted.push({ path: doc.regionPath, deadline });
      }
    }
    return { byRegion, wanted };
  });

  readonly campaigns = new Kept<CampaignTally>('campaigns', async () => {
    const byRegion: CampaignTally = new Map();
    const docs = await CampaignModel.find({}, { _id: 0, regionPath: 1, status: 1, followUpOfNotice: 1, followUpOutcome: 1 }).lean<
      { regionPath: string[]; status: string; followUpOfNotice?: string | null; followUpOutcome?: string | null }[]
    >();
    for (const doc of docs) {
      if (doc.status !== 'in_review') continue;
      addTo(byRegion, doc.regionPath, 'inReview', CAMPAIGN_KEYS);
      if (doc.followUpOfNotice && CLOSING_OUTCOMES.has(doc.followUpOutcome ?? '')) {
        addTo(byRegion, doc.regionPath, 'closingFollowUps', CAMPAIGN_KEYS);
      }
    }
    return byRegion;
  });

  readonly tips = new Kept<TipTally>('tips', async () => {
    const byRegion: TipTally['byRegion'] = new Map();
    const byContact: TipTally['byContact'] = new Map();
    const docs = await TipModel.find({ status: 'new' }, { _id: 0, regionPath: 1, contactUserId: 1 }).lean<
      { regionPath: string[]; contactUserId?: string | null }[]
    >();
    for (const doc of docs) {
      addTo(byRegion, doc.regionPath, 'fresh', ['fresh']);
      if (!doc.contactUserId) continue;
      const paths = byContact.get(doc.contactUserId) ?? [];
      paths.push(doc.regionPath);
      byContact.set(doc.contactUserId, paths);
    }
    return { byRegion, byContact };
  });

  readonly users = new Kept<UserTally>('users', async () => {
    const byRegion: UserTally['byRegion'] = new Map();
    const pathOf = new Map<string, string[]>();
    const docs = await UserModel.find({}, { _id: 1, regionPath: 1 }).lean<{ _id: unknown; regionPath: string[] }[]>();
    for (const doc of docs) {
      addTo(byRegion, doc.regionPath, 'all', ['all']);
      pathOf.set(String(doc._id), doc.regionPath);
    }
    return { byRegion, pathOf };
  });

  readonly groups = new Kept<GroupTally>('groups', async () => {
    const byRegion: GroupTally = new Map();
    const docs = await GroupModel.find({}, { _id: 0, regionPath: 1, channelKind: 1 }).lean<
      { regionPath: string[]; channelKind?: string }[]
    >();
    for (const doc of docs) {
      addTo(byRegion, doc.regionPath, 'all', GROUP_KEYS);
      if (doc.channelKind !== 'manual') addTo(byRegion, doc.regionPath, 'robots', GROUP_KEYS);
    }
    return byRegion;
  });
}
