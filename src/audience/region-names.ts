// Region names for the delivery planner: every region's code → name, read once per process
// and kept while the region version token (regions/model.ts, changed after every region
// write) stays the same. FerretDB answers no region read but an `_id` equality from an index
// and region `_id`s are not their codes: a province's ~47,000 regions took seconds to scan,
// once per planned run (and twice more for the scope and the named regions) before the first
// batch of an urgent push could be written. With this copy, a run's names cost one `_id`
// lookup of the token. Started, not awaited, by the scheduler role at start (main.ts), so an
// urgent run approved later finds it ready. About 6 MB for a province.
import { REGION_VERSION_ID, RegionModel, RegionVersionModel } from '../regions/model.js';

const cache = new Map<string, { token: string | null; names: Promise<Map<string, string>> }>();

/** The names of every region (code → name), current with the regions' version token. */
export async function regionNames(): Promise<Map<string, string>> {
  const key = RegionModel.db.name;
  const token =
    (await RegionVersionModel.findById(REGION_VERSION_ID, { token: 1 }).lean<{ token: string }>())?.token ?? null;
  const cached = cache.get(key);
  if (cached && token !== null && cached.token === token) return cached.names;
  const names = (async () => {
    const regions = await RegionModel.find({}, { _id: 0, code: 1, name: 1 }).lean<{ code: string; name: string }[]>();
    return new Map(regions.map((r) => [r.code, r.name]));
  })();
  // Read after the token: a token that is still missing (no region write yet) is never trusted later.
  cache.set(key, { token, names });
  names.catch(() => cache.delete(key));
  return names;
}

/** Reads the names now (the scheduler role at start), so the first planned run finds them. */
export async function warmRegionNames(): Promise<void> {
  await regionNames();
}
