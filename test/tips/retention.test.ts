// Tips are not kept for ever (issue 26, finding 3): TIP_RETENTION_DAYS after a case's outcome
// its tips and their photos are purged (audited, counted, never their content); before that,
// the case officer or an admin over the notice may delete one tip, audited.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditModel } from '../../src/audit/model.js';
import { TipModel } from '../../src/tips/model.js';
import { photo } from '../helpers/images.js';
import { TREE } from '../helpers/regions.js';
import { formData } from '../residents/http.js';
import { type WantedWorld, startWantedWorld } from '../residents/world.js';

const DAY = 24 * 3600_000;
const tipPhotos = () => mongoose.connection.db!.collection('tipphotos.files').countDocuments();

describe('tip retention and deletion', () => {
  let w: WantedWorld;

  const sendTip = async (text: string, from: string, withPhoto = false) => {
    const form = formData(
      { text, phone: '' },
      withPhoto ? { name: 'photo', filename: 'a.jpg', data: await photo(200 + text.length, 150), mime: 'image/jpeg' } : undefined,
    );
    const posted = await w.t.app.inject({
      method: 'POST',
      url: `/n/${w.noticeId}/tips`,
      headers: { 'content-type': form.contentType },
      payload: form.body,
      remoteAddress: from,
    });
    expect(posted.statusCode, posted.body).toBe(303);
    return String((await TipModel.findOne({ text }).lean())!._id);
  };

  beforeAll(async () => {
    w = await startWantedWorld({}, { TIP_RETENTION_DAYS: '30' });
  });
  afterAll(() => w.close());

  it('deletes one tip for the case officer, audited without its content; nobody outside the case can', async () => {
    const id = await sendTip('这条线索发错了，请删除', '10.9.0.1', true);
    const stranger = await w.t.userToken('editor', TREE.countyB.code);
    expect((await w.t.request('DELETE', `/api/tips/${id}`, stranger.token)).statusCode).toBe(404);
    const viewer = await w.t.userToken('viewer', TREE.countyA.code);
    expect((await w.t.request('DELETE', `/api/tips/${id}`, viewer.token)).statusCode).toBe(403);
    const deleted = await w.t.request('DELETE', `/api/tips/${id}`, w.officer.token);
    expect(deleted.statusCode, deleted.body).toBe(200);
    expect(await TipModel.countDocuments({ _id: id })).toBe(0);
    expect(await tipPhotos()).toBe(0);
    const audit = await AuditModel.findOne({ action: 'tip.delete', 'target.id': id }).lean();
    expect(audit).toMatchObject({ actorId: w.officer.id });
    expect(JSON.stringify(audit)).not.toContain('发错了');
    expect((await w.t.request('DELETE', `/api/tips/${id}`, w.officer.token)).statusCode).toBe(404);
  });

  it('keeps the tips of an open case, and of a solved one until TIP_RETENTION_DAYS after its outcome, then purges them', async () => {
    await sendTip('在菜市场见过此人', '10.9.0.2', true);
    await sendTip('可能住在五山新村', '10.9.0.3');
    w.clock.advance(400 * DAY); // an open case keeps its tips however old
    expect(await w.t.ctx.tips.purgeExpired()).toBe(0);
    w.clock.set('2025-07-21T02:00:00.000Z');
    const solved = await w.t.request('POST', `/api/cases/${w.noticeId}/solve`, w.editor, { kind: 'caught' });
    expect(solved.statusCode, solved.body).toBe(200);
    w.clock.advance(29 * DAY);
    expect(await w.t.ctx.tips.purgeExpired()).toBe(0);
    expect(await TipModel.countDocuments({ noticeId: w.noticeId })).toBe(2);
    w.clock.advance(1 * DAY + 60_000);
    expect(await w.t.ctx.tips.purgeExpired()).toBe(2);
    expect(await TipModel.countDocuments({ noticeId: w.noticeId })).toBe(0);
    expect(await tipPhotos()).toBe(0);
    const purge = await AuditModel.findOne({ action: 'tip.purge', 'target.id': w.noticeId }).lean();
    expect(purge?.details).toMatchObject({ tips: 2, retentionDays: 30 });
    expect(await w.t.ctx.tips.purgeExpired()).toBe(0);
  });
});
