import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RobotDoubles } from '../../src/channels/doubles/server.js';
import { RegionModel } from '../../src/regions/model.js';
import { COUNTY_SHAPE, DEMO_COUNTY_BOUNDS, demoRobots, seedDemo } from '../../scripts/demo-data.js';
import { type TestApp, startTestApp } from '../helpers/app.js';

describe('demo county', () => {
  let t: TestApp;
  const doubles = new RobotDoubles();

  beforeAll(async () => {
    await doubles.start();
    t = await startTestApp({
      env: {
        WECOM_BASE_URL: doubles.url,
        DINGTALK_BASE_URL: doubles.url,
        FEISHU_BASE_URL: doubles.url,
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await doubles.close();
  });

  it('creates 内黄县 from the division list (17 townships, 532 villages, 595 groups, ~200,000 members), and a second run creates nothing', async () => {
    const progress: number[] = [];
    const first = await seedDemo(t.ctx.groups, {
      groups: COUNTY_SHAPE.groups,
      doublesUrl: doubles.url,
      onProgress: (_stage, done) => progress.push(done),
    });
    expect(first.groupsCreated).toBe(595);
    expect(progress.at(-1)).toBe(595);
    expect(await RegionModel.countDocuments({ regionPath: '410527', level: 'township' })).toBe(17);
    expect(await RegionModel.countDocuments({ regionPath: '410527', level: 'village' })).toBe(532);
    expect(await RegionModel.findOne({ code: '410527101' }).lean()).toMatchObject({ name: '东庄镇' });
    const totals = await t.ctx.audience.totals(t.ctx.regions.rootScope(), { regions: ['410527'] });
    expect(totals.groupCount).toBe(595);
    expect(totals.villageCount).toBe(532);
    expect(totals.memberTotal).toBeGreaterThan(190_000);
    expect(totals.memberTotal).toBeLessThan(210_000);

    const second = await seedDemo(t.ctx.groups, { groups: COUNTY_SHAPE.groups, doublesUrl: doubles.url });
    expect(second).toEqual({ regionsCreated: 0, groupsCreated: 0 });
    expect(await t.ctx.audience.totals(t.ctx.regions.rootScope(), { regions: ['410527'] })).toEqual(totals);
  });

  it('places every village inside the county’s extent, townships apart from each other', async () => {
    const villages = await RegionModel.find({ regionPath: '410527', level: 'village' }).lean();
    const b = DEMO_COUNTY_BOUNDS;
    for (const v of villages) {
      expect(v.lat, v.code).toBeGreaterThanOrEqual(b.south);
      expect(v.lat, v.code).toBeLessThanOrEqual(b.north);
      expect(v.lng, v.code).toBeGreaterThanOrEqual(b.west);
      expect(v.lng, v.code).toBeLessThanOrEqual(b.east);
    }
    const lats = villages.map((v) => v.lat!);
    const lngs = villages.map((v) => v.lng!);
    // Spread over the county, not piled in one spot.
    expect(Math.max(...lats) - Math.min(...lats)).toBeGreaterThan(0.2);
    expect(Math.max(...lngs) - Math.min(...lngs)).toBeGreaterThan(0.3);
    expect(new Set(villages.map((v) => `${v.lat},${v.lng}`)).size).toBe(villages.length);
  });

  it('mixes channels, and every robot channel reaches its double', async () => {
    for (const robot of demoRobots(COUNTY_SHAPE.groups, doubles.url)) doubles.addRobot(robot);
    const seen = new Set<string>();
    for await (const batch of t.ctx.audience.selectedGroupBatches(
      t.ctx.regions.rootScope(),
      { regions: ['410527'] },
      { batchSize: 100 },
    )) {
      for (const member of batch) {
        if (seen.has(member.channelKind)) continue;
        seen.add(member.channelKind);
        const outcome = await t.ctx.channels.adapterFor(member.channelKind).send(member, {
          type: 'text',
          card: { format: 'text', title: '演示', content: '演示消息', url: 'https://jx.example/n/1', pictureUrl: null },
        });
        expect(outcome.status, member.channelKind).toBe('sent');
      }
    }
    expect([...seen].sort()).toEqual(['dingtalk', 'feishu', 'manual', 'webhook', 'wecom']);
    expect(new Set(doubles.received().map((m) => m.platform))).toEqual(
      new Set(['wecom', 'dingtalk', 'feishu', 'webhook']),
    );
  });
});
