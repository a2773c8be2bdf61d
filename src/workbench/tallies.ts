// The workbench's figures besides the open tasks, per region, computed once and then kept
// exact by the collection's change log instead of a count per call (issue 25: on FerretDB 1.24
// every count by scope read the whole collection; the province admin's first-day steps took
// ~10 s).
//
// Each tally is computed from one read of its collection (only the fields it needs), with
// each document's part of it kept (`docs`), and kept per process under the collection's
// version token (db/versions.ts: a new token after every write through mongoose, the write's
// ids logged before it). When the token changed, the reader reads the log's new records by
// `_id` and re-reads only the ids they name by `_id`: the document's old part is taken off the
// tally, its new part added (a document gone adds nothing). A record naming `*` (a write by a
// field, `bulkWrite`, more than MAX_LOGGED_IDS ids) or a log pruned past the reader makes it
// read the collection again. A writer that died between its write and its record leaves a
// tally that misses that write: a tally whose collection's token moved since the tally was
// last read whole is read whole again in the background once that read is MAX_KEEP_MS old (the
// call that finds it older answers from the kept tally, and so do the calls while the read runs:
// the new state replaces the kept one when it is done). A collection nothing wrote to since
// its whole read is read whole again only once that read is `recountMs` old
// (TALLY_RECOUNT_MINUTES, default 60; issue 25: at 50,000 groups the whole re-read of every
// tallied collection every 5 minutes was an idle api process's largest cost): a dead writer's
// write is taken in within that bound even if nothing is written after it, for one whole read
// per collection per bound (docs/scale.md gives the cost). Reads are driven by the calls: a
// process nobody calls reads nothing, and the first call after the bound starts the read and
// answers from the kept tally (the next call has the new figures). A missing token (no
// write since the tokens exist, and `prepareDatabase` not run) is never trusted. Every figure
// is kept per region code of the documents' paths, so a caller's scope is one map look-up.
import { GroupModel } from '../audience/model.js';
import { UserModel } from '../auth/model.js';
import { CampaignModel } from '../campaigns/model.js';
import { ALL_IDS, changeLogEnd, changesSince, collectionVersion } from '../db/versions.js';
import { NoticeModel } from '../notices/model.js';
import { TipModel } from '../tips/model.js';

/** A kept tally whose collection was written since its whole read is read whole again (in the background) after this long. */
export const MAX_KEEP_MS = 5 * 60_000;
/** A kept tally nobody wrote to is read whole again after this long (TALLY_RECOUNT_MINUTES; the default). */
export const RECOUNT_MS = 60 * 60_000;

/** The collections whose tokens the workbench reads (prepareDatabase gives each one). */
export const TALLIED_COLLECTIONS = ['notices', 'campaigns', 'tips', 'users', 'groups'] as const;

/** Counts per region code: every code of a document's path counts it once. */
type PerRegion<K extends string> = Map<string, Record<K, number>>;

function addTo<K extends string>(
  map: PerRegion<K>,
  path: readonly string[],
  key: K,
  keys: readonly K[],
  sign = 1,
): void {
  for (const code of new Set(path)) {
    let row = map.get(code);
    if (!row) {
      row = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
      map.set(code, row);
    }
    row[key] += sign;
  }
}

/** How one collection's tally is read and folded, document by document. */
interface Source<D, T> {
  name: string;
  /** Every document that can count (projected to what the tally needs), `_id` included. */
  readAll(): Promise<(D & { _id: unknown })[]>;
  /** One document by `_id` (null: gone). */
  readOne(id: string): Promise<(D & { _id: unknown }) | null>;
  empty(): T;
  /** Adds (sign 1) or takes off (sign -1) one document's part; `id` is its `_id` as a string. */
  fold(tally: T, id: string, doc: D, sign: 1 | -1): void;
}

interface State<D, T> {
  token: string;
  /** The token when the collection was last read whole (the state's `at`). */
  wholeToken: string;
  /** The change-log record this state includes (db/versions.ts). */
  seq: number;
  /** When the collection was last read whole (the service's clock, ms). */
  at: number;
  docs: Map<string, D>;
  value: T;
}

/** One collection's tally, kept exact from its change log under its version token. */
class Kept<D, T> {
  private state: State<D, T> | null = null;
  /** Catch-ups one after another (each changes the kept state). */
  private turn: Promise<unknown> = Promise.resolve();
  private reloading: Promise<unknown> | null = null;

  constructor(
    private readonly source: Source<D, T>,
    private readonly now: () => number,
    /** How long a whole read nobody wrote after is kept. */
    private readonly recountMs: () => number,
  ) {}

  get(): Promise<T> {
    const run = this.turn.then(() => this.current());
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async current(): Promise<T> {
    const version = await collectionVersion(this.source.name);
    const state = this.state;
    if (!state || version === null) return (await this.readWhole(version?.token ?? null)).value;
    // Written since the whole read: read whole again after MAX_KEEP_MS; nobody wrote: after the
    // recount bound (a killed writer's unlogged write is taken in by then either way).
    const written = version.token !== state.wholeToken;
    if (this.now() - state.at >= (written ? MAX_KEEP_MS : this.recountMs())) this.reloadLater();
    if (state.token === version.token) return state.value;
    const changes = await changesSince(this.source.name, state.seq, version.n);
    if (changes.ids === ALL_IDS) return (await this.readWhole(version.token)).value;
    for (const id of changes.ids) {
      const doc = await this.source.readOne(id).catch(() => null);
      const old = state.docs.get(id);
      if (old) this.source.fold(state.value, id, old, -1);
      state.docs.delete(id);
      if (doc) {
        state.docs.set(id, doc);
        this.source.fold(state.value, id, doc, 1);
      }
    }
    state.seq = changes.seq;
    state.token = version.token;
    return state.value;
  }

  /** The whole collection read, kept (without a token nothing is kept: the next call reads again). */
  private async readWhole(token: string | null): Promise<State<D, T>> {
    const state = await this.wholeState(token);
    this.state = token === null ? null : state;
    return state;
  }

  /** A state from one read of the whole collection (the log's end taken first: later records are applied on top). */
  private async wholeState(token: string | null): Promise<State<D, T>> {
    const seq = await changeLogEnd(this.source.name);
    const docs = new Map<string, D>();
    const value = this.source.empty();
    for (const doc of await this.source.readAll()) {
      const id = String(doc._id);
      docs.set(id, doc);
      this.source.fold(value, id, doc, 1);
    }
    return { token: token ?? '', wholeToken: token ?? '', seq, at: this.now(), docs, value };
  }

  /**
   * A whole read in the background, outside the turn: callers meanwhile answer from the kept
   * state (and apply the log to it); the new state replaces it in a turn of its own, and the
   * next call applies the records logged since the read began.
   */
  private reloadLater(): void {
    if (this.reloading) return;
    this.reloading = Promise.resolve().then(async () => {
      const version = await collectionVersion(this.source.name);
      const fresh = await this.wholeState(version?.token ?? null);
      const run = this.turn.then(() => {
        this.state = version === null ? null : fresh;
      });
      this.turn = run.catch(() => undefined);
      await run;
    });
    this.reloading
      .catch(() => undefined)
      .finally(() => {
        this.reloading = null;
      });
  }

  /** Resolves once no background whole read is running (tests wait for it). */
  async settled(): Promise<void> {
    await this.reloading?.catch(() => undefined);
  }
}

const NOTICE_KEYS = ['all', 'inReview'] as const;
export interface NoticeTally {
  byRegion: PerRegion<(typeof NOTICE_KEYS)[number]>;
  /** Open wanted cases (approved, not retracted, no outcome yet) by notice id: their path and deadline. */
  wanted: Map<string, { path: string[]; deadline: string }>;
}

const CAMPAIGN_KEYS = ['inReview', 'closingFollowUps'] as const;
export type CampaignTally = PerRegion<(typeof CAMPAIGN_KEYS)[number]>;

export interface TipTally {
  /** New tips per region code. */
  byRegion: PerRegion<'fresh'>;
  /** New tips with a contact officer: per contact, each tip's path by tip id. */
  byContact: Map<string, Map<string, string[]>>;
}

export interface UserTally {
  byRegion: PerRegion<'all'>;
  pathOf: Map<string, string[]>;
}

const GROUP_KEYS = ['all', 'robots'] as const;
export type GroupTally = PerRegion<(typeof GROUP_KEYS)[number]>;

const CLOSING_OUTCOMES = new Set(['caught', 'solved', 'expired']);

interface NoticeDoc {
  regionPath: string[];
  status: string;
  retractedAt?: Date | null;
  content?: { category?: string; wanted?: { deadline?: string } | null };
  caseOutcomes?: unknown[];
}
const NOTICE_FIELDS = {
  _id: 1,
  regionPath: 1,
  status: 1,
  retractedAt: 1,
  'content.category': 1,
  'content.wanted.deadline': 1,
  caseOutcomes: 1,
};

interface CampaignDoc {
  regionPath: string[];
  status: string;
  followUpOfNotice?: string | null;
  followUpOutcome?: string | null;
}
const CAMPAIGN_FIELDS = { _id: 1, regionPath: 1, status: 1, followUpOfNotice: 1, followUpOutcome: 1 };

interface TipDoc {
  regionPath: string[];
  status?: string;
  contactUserId?: string | null;
}
const TIP_FIELDS = { _id: 1, regionPath: 1, status: 1, contactUserId: 1 };

interface UserDoc {
  regionPath: string[];
}

interface GroupDoc {
  regionPath: string[];
  channelKind?: string;
}
const GROUP_FIELDS = { _id: 1, regionPath: 1, channelKind: 1 };

/** One array per distinct path (50,000 groups share a few thousand paths). */
function interned(paths: Map<string, string[]>, path: string[] | undefined): string[] {
  const key = (path ?? []).join('/');
  let kept = paths.get(key);
  if (!kept) {
    kept = path ?? [];
    paths.set(key, kept);
  }
  return kept;
}

const one =
  <D>(model: { findById: (id: string, fields: unknown) => { lean: <R>() => Promise<R> } }, fields: unknown) =>
  (id: string) =>
    model.findById(id, fields).lean<(D & { _id: unknown }) | null>();

export class WorkbenchTallies {
  /**
   * `now`: the service's clock (ms), for the age of a whole read; `recountMs`: how long a tally
   * nobody wrote to is kept before it is read whole again (TALLY_RECOUNT_MINUTES).
   */
  constructor(
    private readonly now: () => number = Date.now,
    private readonly recountMs: number = RECOUNT_MS,
  ) {}

  /** Resolves once no tally's background whole read is running (tests wait for it). */
  async settled(): Promise<void> {
    await Promise.all([this.notices, this.campaigns, this.tips, this.users, this.groups].map((k) => k.settled()));
  }

  readonly notices = new Kept<NoticeDoc, NoticeTally>(
    {
      name: 'notices',
      readAll: () => NoticeModel.find({}, NOTICE_FIELDS).lean<(NoticeDoc & { _id: unknown })[]>(),
      readOne: one<NoticeDoc>(NoticeModel as never, NOTICE_FIELDS),
      empty: () => ({ byRegion: new Map(), wanted: new Map() }),
      fold: (tally, id, doc, sign) => {
        const path = doc.regionPath ?? [];
        addTo(tally.byRegion, path, 'all', NOTICE_KEYS, sign);
        if (doc.status === 'in_review') addTo(tally.byRegion, path, 'inReview', NOTICE_KEYS, sign);
        const deadline = doc.content?.wanted?.deadline;
        if (
          doc.content?.category === 'wanted_clue' &&
          doc.status === 'approved' &&
          !doc.retractedAt &&
          (doc.caseOutcomes?.length ?? 0) === 0 &&
          typeof deadline === 'string'
        ) {
          if (sign > 0) tally.wanted.set(id, { path, deadline });
          else tally.wanted.delete(id);
        }
      },
    },
    () => this.now(),
    () => this.recountMs,
  );

  readonly campaigns = new Kept<CampaignDoc, CampaignTally>(
    {
      name: 'campaigns',
      readAll: () => CampaignModel.find({}, CAMPAIGN_FIELDS).lean<(CampaignDoc & { _id: unknown })[]>(),
      readOne: one<CampaignDoc>(CampaignModel as never, CAMPAIGN_FIELDS),
      empty: () => new Map(),
      fold: (tally, _id, doc, sign) => {
        if (doc.status !== 'in_review') return;
        addTo(tally, doc.regionPath ?? [], 'inReview', CAMPAIGN_KEYS, sign);
        if (doc.followUpOfNotice && CLOSING_OUTCOMES.has(doc.followUpOutcome ?? '')) {
          addTo(tally, doc.regionPath ?? [], 'closingFollowUps', CAMPAIGN_KEYS, sign);
        }
      },
    },
    () => this.now(),
    () => this.recountMs,
  );

  readonly tips = new Kept<TipDoc, TipTally>(
    {
      name: 'tips',
      // Only new tips count; a tip that becomes new is re-read by `_id` from the log.
      readAll: () => TipModel.find({ status: 'new' }, TIP_FIELDS).lean<(TipDoc & { _id: unknown })[]>(),
      readOne: one<TipDoc>(TipModel as never, TIP_FIELDS),
      empty: () => ({ byRegion: new Map(), byContact: new Map() }),
      fold: (tally, id, doc, sign) => {
        if (doc.status !== 'new') return;
        addTo(tally.byRegion, doc.regionPath ?? [], 'fresh', ['fresh'], sign);
        if (!doc.contactUserId) return;
        const tips = tally.byContact.get(doc.contactUserId) ?? new Map<string, string[]>();
        if (sign > 0) tips.set(id, doc.regionPath ?? []);
        else tips.delete(id);
        if (tips.size > 0) tally.byContact.set(doc.contactUserId, tips);
        else tally.byContact.delete(doc.contactUserId);
      },
    },
    () => this.now(),
    () => this.recountMs,
  );

  readonly users = new Kept<UserDoc, UserTally>(
    {
      name: 'users',
      readAll: () => UserModel.find({}, { _id: 1, regionPath: 1 }).lean<(UserDoc & { _id: unknown })[]>(),
      readOne: one<UserDoc>(UserModel as never, { _id: 1, regionPath: 1 }),
      empty: () => ({ byRegion: new Map(), pathOf: new Map() }),
      fold: (tally, id, doc, sign) => {
        addTo(tally.byRegion, doc.regionPath ?? [], 'all', ['all'], sign);
        if (sign > 0) tally.pathOf.set(id, doc.regionPath ?? []);
        else tally.pathOf.delete(id);
      },
    },
    () => this.now(),
    () => this.recountMs,
  );

  private readonly groupPaths = new Map<string, string[]>();
  readonly groups = new Kept<GroupDoc, GroupTally>(
    {
      name: 'groups',
      readAll: async () => {
        const docs = await GroupModel.find({}, GROUP_FIELDS).lean<(GroupDoc & { _id: unknown })[]>();
        for (const doc of docs) doc.regionPath = interned(this.groupPaths, doc.regionPath);
        return docs;
      },
      readOne: one<GroupDoc>(GroupModel as never, GROUP_FIELDS),
      empty: () => new Map(),
      fold: (tally, _id, doc, sign) => {
        addTo(tally, doc.regionPath ?? [], 'all', GROUP_KEYS, sign);
        if (doc.channelKind !== 'manual') addTo(tally, doc.regionPath ?? [], 'robots', GROUP_KEYS, sign);
      },
    },
    () => this.now(),
    () => this.recountMs,
  );
}
