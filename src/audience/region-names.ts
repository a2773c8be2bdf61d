// Region names for the delivery planner: every region's code → name, from the process's copy of
// the regions (regions/directory.ts: one whole read shared with radius targeting and the API),
// and kept while the region version token (regions/model.ts, changed after every region
// write) stays the same. FerretDB answers no region read but an `_id` equality from an index
// and region `_id`s are not their codes: a province's ~47,000 regions took seconds to scan,
// once per planned run (and twice more for the scope and the named regions) before the first
// batch of an urgent push could be written. With this copy, a run's names cost one `_id`
// lookup of the token. Started, not awaited, by the scheduler role at start (main.ts). About
// 6 MB for a province.
//
// A process that has not read them yet (just started: a deploy, a crash) would still wait for
// that whole read before an urgent run's first batch (22-76 s at 50,000 groups). So each whole
// read also keeps the names in small documents by `_id` (`regionnameparts`): one per county
// (its townships and villages) and one `_upper` (every region at county level and above),
// stamped with the token they were read under; `countyRegionNames` and `regionKnown` read
// those (two `_id` lookups) while the whole copy is not ready. A part whose token is not the
// current one is never used (the whole read instead, which writes them anew). An install from
// before the parts gets them at its scheduler's first start (the warm-up's whole read).
import mongoose from 'mongoose';
import { forgetRegions, regionDirectory } from '../regions/directory.js';
import { REGION_VERSION_ID, RegionModel, RegionVersionModel } from '../regions/model.js';

/** A code → name lookup (a Map, or several counties' parts together). */
export interface NameLookup {
  get(code: string): string | undefined;
}

const partSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    /** The region version token the names were read under. */
    token: { type: String, required: true },
    /** JSON of [code, name] pairs. */
    names: { type: String, required: true },
  },
  { versionKey: false },
);
/** `_id`: a county's code, `_upper` (county level and above), or `_written` (the token of the last complete write). */
export const RegionNamePartModel = mongoose.model('RegionNamePart', partSchema, 'regionnameparts');
const UPPER = '_upper';
const WRITTEN = '_written';

interface Whole {
  token: string | null;
  names: Promise<Map<string, string>>;
  /** Set once `names` resolved (so a reader can use it without waiting). */
  ready: Map<string, string> | null;
  /** The parts written from this read (settles when done; failures are ignored). */
  parts: Promise<void>;
}

const cache = new Map<string, Whole>();
/** Parts this process read, per database and part id (kept while their token is current). */
const partCache = new Map<string, { token: string; names: Map<string, string> }>();

async function currentToken(): Promise<string | null> {
  return (await RegionVersionModel.findById(REGION_VERSION_ID, { token: 1 }).lean<{ token: string }>())?.token ?? null;
}

/** Writes the parts of one whole read, unless the parts of this token are written already. */
async function writeParts(token: string, regions: { code: string; name: string; regionPath?: string[] }[]) {
  const written = await RegionNamePartModel.findById(WRITTEN, { token: 1 }).lean<{ token: string }>();
  if (written?.token === token) return;
  const parts = new Map<string, [string, string][]>();
  for (const region of regions) {
    // A region's path holds itself: root, province, city, county, township, village.
    const path = region.regionPath ?? [];
    const part = path.length > 4 ? path[3]! : UPPER;
    const pairs = parts.get(part) ?? [];
    if (pairs.length === 0) parts.set(part, pairs);
    pairs.push([region.code, region.name]);
  }
  const ops = [...parts].map(([_id, pairs]) => ({
    updateOne: { filter: { _id }, update: { $set: { token, names: JSON.stringify(pairs) } }, upsert: true },
  }));
  for (let i = 0; i < ops.length; i += 200) await RegionNamePartModel.bulkWrite(ops.slice(i, i + 200), { ordered: false });
  await RegionNamePartModel.updateOne({ _id: WRITTEN }, { $set: { token, names: '[]' } }, { upsert: true });
}

function readWhole(key: string, token: string | null): Whole {
  let settle: () => void = () => undefined;
  const parts = new Promise<void>((r) => {
    settle = r;
  });
  const whole: Whole = { token, names: null as never, ready: null, parts };
  whole.names = (async () => {
    // The process's copy of the regions (regions/directory.ts), read after `token`: no second
    // whole read of the regions beside it.
    const regions = [...(await regionDirectory()).byCode.values()];
    const names = new Map(regions.map((r) => [r.code, r.name]));
    whole.ready = names;
    // Kept by `_id` for the next process's first runs (not awaited by the readers of the names).
    if (token !== null) void writeParts(token, regions).catch(() => undefined).finally(settle);
    else settle();
    return names;
  })();
  whole.names.catch(() => {
    cache.delete(key);
    settle();
  });
  return whole;
}

/** The names of every region (code → name), current with the regions' version token. */
export async function regionNames(): Promise<Map<string, string>> {
  return (await wholeFor(await currentToken())).names;
}

async function wholeFor(token: string | null): Promise<Whole> {
  const key = RegionModel.db.name;
  const cached = cache.get(key);
  if (cached && token !== null && cached.token === token) return cached;
  // Read after the token: a token that is still missing (no region write yet) is never trusted later.
  const whole = readWhole(key, token);
  cache.set(key, whole);
  return whole;
}

/** The whole copy when it is read and current, without waiting for it. */
function wholeReady(token: string | null): Map<string, string> | null {
  const cached = cache.get(RegionModel.db.name);
  return cached && token !== null && cached.token === token ? cached.ready : null;
}

/** A part written under `token`, by `_id` (kept per process while the token stays), or null. */
async function part(id: string, token: string): Promise<Map<string, string> | null> {
  const key = `${RegionModel.db.name}/${id}`;
  const held = partCache.get(key);
  if (held?.token === token) return held.names;
  const doc = await RegionNamePartModel.findById(id).lean<{ token: string; names: string }>();
  if (!doc || doc.token !== token) return null;
  const names = new Map(JSON.parse(doc.names) as [string, string][]);
  partCache.set(key, { token, names });
  return names;
}

/**
 * The names a county's groups need (the county, its ancestors, its townships and villages):
 * the whole copy when it is ready, else the county's part and `_upper` by `_id` (a just
 * started process), else the whole read. Every name of the whole copy is in one of the two
 * parts, so the answer is the same whichever is used.
 */
export async function countyRegionNames(county: string): Promise<NameLookup> {
  const token = await currentToken();
  const ready = wholeReady(token);
  if (ready) return ready;
  if (token !== null) {
    const [upper, own] = await Promise.all([part(UPPER, token), part(county, token)]);
    if (upper && own) return { get: (code) => own.get(code) ?? upper.get(code) };
  }
  return (await wholeFor(token)).names;
}

/**
 * Whether a region of this code exists, as `regionNames().has(code)` answers, from the parts
 * while the whole copy is not ready (codes below county level are looked up in the part of
 * the county their first six digits name, the national code's county prefix).
 */
export async function regionKnown(code: string): Promise<boolean> {
  const token = await currentToken();
  const ready = wholeReady(token);
  if (ready) return ready.has(code);
  if (token !== null) {
    const upper = await part(UPPER, token);
    if (upper?.has(code)) return true;
    if (upper && code.length > 6 && (await part(code.slice(0, 6), token))?.has(code)) return true;
  }
  return (await wholeFor(token)).names.then((names) => names.has(code));
}

/**
 * Reads the names now (the scheduler role at start), so the first planned run finds them, and
 * keeps their parts by `_id` for the next process (resolves once those are written).
 */
export async function warmRegionNames(): Promise<void> {
  const whole = await wholeFor(await currentToken());
  await whole.names;
  await whole.parts;
}

/** Forgets what this process read (a test's stand-in for a freshly started process). */
export function forgetRegionNames(): void {
  cache.clear();
  partCache.clear();
  forgetRegions();
}
