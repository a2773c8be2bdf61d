// The audit screen pages from per-region lists read by `_id` (src/audit/pages.ts), never from
// the audit collection (on FerretDB any other read of it reads every entry ever written). The
// pages must equal the collection's answer (newest first by id, the scope, action, actor,
// time range and cursor applied) for an install's entries written before the lists (written
// directly here, then the start's backfill) and for entries written since through the API.
// Real FerretDB and HTTP; nothing timed.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditModel } from '../../src/audit/model.js';
import { AuditPageModel, forgetAuditPages, recordRow, rowOf } from '../../src/audit/pages.js';
import { prepareDatabase } from '../../src/context.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

const ROOT = ['000000'];
const PROVINCE = ['000000', '440000'];
const A = ['000000', '440000', '440100', '440106', '440106001'];
const B = ['000000', '440000', '440100', '440111'];
const ACTIONS = ['campaign.approve', 'notice.approve', 'auth.login', 'group.update'];

describe('audit pages by _id', () => {
  let t: TestApp;
  let countyAdmin: { token: string; id: string };
  let cityAdmin: { token: string; id: string };
  const actor = new mongoose.Types.ObjectId().toHexString();

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    countyAdmin = await t.userToken('admin', TREE.countyA.code);
    cityAdmin = await t.userToken('admin', TREE.city.code);
    // An install's month of entries from before the lists: written directly, lists dropped.
    const start = Math.floor(Date.now() / 1000) - 30 * 86_400;
    const paths = [ROOT, PROVINCE, A, B];
    const old = Array.from({ length: 700 }, (_, i) => {
      const seconds = start + Math.floor(i * 3_600);
      const id = `${seconds.toString(16).padStart(8, '0')}${(i + 1).toString(16).padStart(16, '0')}`;
      return {
        _id: new mongoose.Types.ObjectId(id),
        at: new Date(seconds * 1000),
        actorId: i % 7 === 0 ? actor : null,
        actorName: i % 7 === 0 ? 'old-admin' : null,
        action: ACTIONS[i % ACTIONS.length]!,
        targetKind: null,
        targetId: null,
        ip: '10.0.0.1',
        regionPath: paths[i % paths.length]!,
        details: i % 5 === 0 ? { note: `第 ${i} 条`, list: [1, 2] } : null,
      };
    });
    await AuditModel.collection.insertMany(old as never[]);
    await AuditPageModel.deleteMany({});
    forgetAuditPages();
    await prepareDatabase(t.ctx);
    // Entries written since, through the service (logins, a failed login, user changes).
    const user = await t.userToken('editor', TREE.countyA.code);
    await t.request('POST', '/api/auth/login', null, { username: user.username, password: 'wrong-password' });
    await t.request('PATCH', `/api/users/${user.id}`, t.adminToken, { displayName: '改过名' });
    await t.userToken('viewer', TREE.countyB.code);
  });
  afterAll(() => t.close());

  /** The collection's answer, as the screen gave it before the lists. */
  async function expected(code: string, query: Record<string, unknown>, before: string | null, limit: number) {
    const filter: Record<string, unknown> = { regionPath: code, ...query };
    if (before) filter._id = { $lt: new mongoose.Types.ObjectId(before) };
    const docs = await AuditModel.find(filter, { _id: 1 }).sort({ _id: -1 }).limit(limit).lean();
    return docs.map((d) => String(d._id));
  }

  async function walk(token: string, code: string, params: string, query: Record<string, unknown>, limit: number) {
    let before: string | null = null;
    let pages = 0;
    for (;;) {
      const url = `/api/audit?limit=${limit}${params}${before ? `&before=${before}` : ''}`;
      const response = await t.request('GET', url, token);
      expect(response.statusCode).toBe(200);
      const ids = (response.json() as { id: string }[]).map((e) => e.id);
      expect(ids).toEqual(await expected(code, query, before, limit));
      pages += 1;
      if (ids.length < limit) return pages;
      before = ids.at(-1)!;
    }
  }

  it('gives every page the collection gives, for each scope, filter and cursor, after the backfill and new writes', async () => {
    expect(await walk(t.adminToken, '000000', '', {}, 100)).toBeGreaterThan(6);
    await walk(countyAdmin.token, TREE.countyA.code, '', {}, 50);
    await walk(cityAdmin.token, TREE.city.code, '', {}, 100);
    await walk(t.adminToken, '000000', '&action=notice.approve', { action: 'notice.approve' }, 60);
    await walk(t.adminToken, '000000', `&actorId=${actor}`, { actorId: actor }, 40);
    const from = new Date(Date.now() - 20 * 86_400_000);
    const to = new Date(Date.now() - 10 * 86_400_000);
    await walk(
      cityAdmin.token,
      TREE.city.code,
      `&from=${from.toISOString()}&to=${to.toISOString()}`,
      { at: { $gte: from, $lte: to } },
      30,
    );
    // A new entry shows on the next page read (the lists' tail is read each call).
    await t.request('PATCH', `/api/users/${countyAdmin.id}`, t.adminToken, { displayName: '县管理员' });
    const first = (await t.request('GET', '/api/audit?limit=1', t.adminToken)).json() as { action: string; targetName: string }[];
    expect(first[0]).toMatchObject({ action: 'user.update', targetName: '县管理员' });
    await walk(t.adminToken, '000000', '', {}, 200);
  }, 180_000);

  it('reads a page by _id only: never the audit collection, never a target collection whole', async () => {
    for (const token of [t.adminToken, countyAdmin.token]) {
      await t.request('GET', '/api/audit?limit=50', token);
      const seen = await commandsDuring(() => t.request('GET', '/api/audit?limit=50', token));
      const reads = seen.filter((c) => c.name === 'find' || c.name === 'aggregate' || c.name === 'count');
      expect(reads.filter((c) => c.collection === 'auditentries')).toEqual([]);
      expect(reads.filter((c) => !byIdOnly(c.filter))).toEqual([]);
      expect(seen.filter((c) => c.name === 'getMore')).toEqual([]);
    }
  });

  it('when a writer is killed after its list rows and before its entry, no page shows that entry; killed after the entry, the entry shows', async () => {
    const entry = (action: string) => ({
      _id: new mongoose.Types.ObjectId(),
      at: new Date(),
      actorId: null,
      actorName: null,
      action,
      targetKind: null,
      targetId: null,
      ip: '10.0.0.2',
      regionPath: A,
      details: null,
    });
    // Killed between the rows and the insert (the first step only): an entry that never was.
    const ghost = entry('notice.approve');
    await recordRow(rowOf(ghost), new Date());
    // Killed after the insert, before anything that follows it.
    const written = entry('group.update');
    await recordRow(rowOf(written), new Date());
    await AuditModel.collection.insertOne(written as never);
    // This process, and a fresh one (nothing kept): every page equals the collection's.
    for (const fresh of [false, true]) {
      if (fresh) forgetAuditPages();
      await walk(t.adminToken, '000000', '', {}, 100);
      await walk(countyAdmin.token, TREE.countyA.code, '', {}, 50);
      await walk(cityAdmin.token, TREE.city.code, '&action=notice.approve', { action: 'notice.approve' }, 30);
      const top = (await t.request('GET', '/api/audit?limit=3', countyAdmin.token)).json() as { id: string }[];
      expect(top.map((e) => e.id)).toContain(String(written._id));
      expect(top.map((e) => e.id)).not.toContain(String(ghost._id));
    }
    // The written entry's rows were confirmed by the first reader: a page now reads the audit
    // collection only to check the rows of the entry that never was, by _id.
    forgetAuditPages();
    const seen = await commandsDuring(() => t.request('GET', '/api/audit?limit=50', t.adminToken));
    const audit = seen.filter((c) => c.collection === 'auditentries');
    expect(audit.every((c) => c.name === 'find' && byIdOnly(c.filter))).toBe(true);
    expect(audit.map((c) => String(c.filter?._id))).toEqual([String(ghost._id)]);
  });
});
