// Issue 26, finding 12 (rest): an officer's confirmation through a signed link was audited at
// the root, so the county admins whose task it was never saw it in 审计日志; and the region list
// of a national user at the village level had no size limit (half a million rows in one answer).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegionModel } from '../../src/regions/model.js';
import { REGION_LIST_CAP } from '../../src/regions/service.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { target, textCard } from '../helpers/channels.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('audit scope and list sizes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { PUBLIC_BASE_URL: 'https://jx.example.gov.cn' } });
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it('when an officer confirms a task through its link, then the county admins of the task’s region see it in the audit log', async () => {
    const sent = await t.ctx.channels
      .adapterFor('manual')
      .send(target({ kind: 'manual' }), textCard('text'), { reference: 'audit-scope-1' });
    const taskId = (sent as { taskId: string }).taskId;
    const confirmed = await t.request(
      'POST',
      `/api/manual-tasks/${taskId}/confirm?${t.ctx.manualTasks.signedQuery(taskId)}`,
    );
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const countyAdmin = await t.userToken('admin', TREE.countyA.code);
    const seen = await t.request('GET', '/api/audit?action=manual-task.confirm', countyAdmin.token);
    expect(seen.statusCode, seen.body).toBe(200);
    expect(seen.json().map((entry: { targetId: string }) => entry.targetId)).toContain(taskId);
    // …and not the admins of another county.
    const elsewhere = await t.userToken('admin', TREE.countyB.code);
    const hidden = await t.request('GET', '/api/audit?action=manual-task.confirm', elsewhere.token);
    expect(hidden.json()).toEqual([]);
  });

  it('when the village list of a scope is larger than the cap, then it answers a clear 400 unless paged, and pages by code', async () => {
    // More villages than three digits hold: spread them over invented townships of county A.
    const docs = Array.from({ length: REGION_LIST_CAP + 1 }, (_, i) => {
      const township = `440106${String(100 + Math.floor(i / 900)).padStart(3, '0')}`;
      const code = `${township}${String(100 + (i % 900)).padStart(3, '0')}`;
      return {
        code,
        name: `村${i}`,
        level: 'village',
        parentCode: township,
        regionPath: ['000000', '440000', '440100', '440106', township, code],
        lat: null,
        lng: null,
      };
    });
    await RegionModel.insertMany(docs, { ordered: false });

    const whole = await t.request('GET', '/api/regions?level=village', t.adminToken);
    expect(whole.statusCode).toBe(400);
    expect(whole.json().message).toContain(`超过 ${REGION_LIST_CAP} 个`);
    expect(whole.json().field).toBe('parent');

    const first = await t.request('GET', '/api/regions?level=village&limit=500', t.adminToken);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toHaveLength(500);
    const last = first.json().at(-1).code as string;
    const next = await t.request('GET', `/api/regions?level=village&limit=500&after=${last}`, t.adminToken);
    expect(next.json()).toHaveLength(500);
    expect(next.json()[0].code > last).toBe(true);

    // A small scope still gets its whole list in one answer.
    const township = await t.request('GET', `/api/regions?level=village&parent=${TREE.townshipA.code}`, t.adminToken);
    expect(township.statusCode).toBe(200);
    expect(township.json().map((r: { code: string }) => r.code)).toContain(TREE.villageA.code);
  });
});
