// An urgent run's audience (engine planner, `readById`) is read group by group by `_id` from
// the per-county listings instead of by a scan of every group (FerretDB pushes down only an
// `_id` equality: a province's scan took 57 s before the first chunk of an urgent push at
// 50,000 groups), and it is exactly the scan's selection, in the same order: regions, tags,
// explicit groups, exclusions, inactive and flagged groups, scopes (issue 25: the first post of
// an urgent province push within 5 s of approval).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupModel } from '../../src/audience/model.js';
import type { AudienceSpec } from '../../src/campaigns/ports.js';
import { Scope } from '../../src/regions/scope.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { audienceOf } from '../helpers/delivery.js';
import { createGroup } from '../helpers/groups.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('an urgent run’s audience read by _id', () => {
  let t: TestApp;
  const ids: string[] = [];

  async function selected(scope: Scope, spec: AudienceSpec, readById: boolean): Promise<string[]> {
    const out: string[] = [];
    for await (const chunk of t.ctx.audience.selectedGroupBatches(scope, spec, { batchSize: 4, readById })) {
      out.push(...chunk.map((m) => m.groupId));
    }
    return out;
  }

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    for (let i = 0; i < 14; i += 1) {
      const village = i % 3 === 0 ? TREE.villageB : TREE.villageA;
      const group = await createGroup(t, { regionCode: village.code, tags: i % 4 === 0 ? ['重点村'] : ['普通'] });
      ids.push(group.id);
    }
    await GroupModel.updateOne({ _id: ids[1] }, { $set: { active: false } });
    await GroupModel.updateOne({ _id: ids[2] }, { $set: { flaggedAt: new Date(), flagReason: '机器人已失效' } });
  }, 60_000);
  afterAll(() => t?.close());

  const specs: [string, AudienceSpec][] = [
    ['a whole county', audienceOf([TREE.countyA.code]) as AudienceSpec],
    ['a province, less one village', { ...audienceOf([TREE.province.code]), excludeRegions: [TREE.villageB.code] } as AudienceSpec],
    ['a tag', { ...audienceOf([]), tags: ['重点村'] } as AudienceSpec],
  ];

  it('selects exactly what the scan selects, each group once, in every scope', async () => {
    specs.push([
      'explicit groups across counties, less one',
      { ...audienceOf([], [ids[0]!, ids[3]!, ids[5]!, ids[6]!]), excludeGroups: [ids[5]!] } as AudienceSpec,
    ]);
    for (const scope of [new Scope('000000'), new Scope(TREE.countyA.code), new Scope(TREE.townshipA.code)]) {
      for (const [what, spec] of specs) {
        // A region or group outside the scope is refused the same way by both.
        const scanned = await selected(scope, spec, false).catch((e: Error) => e.message);
        const byId = await selected(scope, spec, true).catch((e: Error) => e.message);
        // The same groups (by county, then `_id`, where the scan is in `_id` order).
        const sorted = (found: string[] | string) => (Array.isArray(found) ? [...found].sort() : found);
        expect(sorted(byId), `${what} in ${scope.regionCode}`).toEqual(sorted(scanned));
        if (Array.isArray(byId)) expect(new Set(byId).size).toBe(byId.length);
      }
    }
    // Inactive and flagged groups are left out by both.
    const all = await selected(new Scope('000000'), audienceOf([TREE.province.code]) as AudienceSpec, true);
    expect(all).not.toContain(ids[1]);
    expect(all).not.toContain(ids[2]);
    expect(all).toHaveLength(12);
  });

  it('reads no group but by _id', async () => {
    const spec = audienceOf([TREE.province.code]) as AudienceSpec;
    const seen = await commandsDuring(() => selected(new Scope('000000'), spec, true));
    const groupReads = seen.filter((c) => c.collection === 'groups');
    expect(groupReads.length).toBeGreaterThan(0);
    expect(groupReads.filter((c) => !('_id' in (c.filter ?? {})))).toEqual([]);
    // The scan, for contrast, reads the groups with the selection's filter and no _id.
    const scan = await commandsDuring(() => selected(new Scope('000000'), spec, false));
    expect(scan.filter((c) => c.collection === 'groups' && !byIdOnly(c.filter) && !('_id' in (c.filter ?? {})))).not.toEqual([]);
  });
});
