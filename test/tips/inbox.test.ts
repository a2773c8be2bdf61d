// A resident's tip posted through the real page over real HTTP lands in the case officer's
// inbox (and the editors' whose scope holds the notice), nowhere else; the officer's robot
// is told a count and a link, never the text; nothing about the sender is stored anywhere.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { photo } from '../helpers/images.js';
import { TREE } from '../helpers/regions.js';
import { formData, httpRequest } from '../residents/http.js';
import { type WantedWorld, startWantedWorld } from '../residents/world.js';
import { pageText } from '../helpers/html.js';

const SENDER_ADDRESS = '127.31.41.59';
const SENDER_AGENT = 'Mozilla/5.0 (Linux; Android 14; TipSenderPhone-7f3a9) Mobile Safari/537.36';
const TIP_TEXT = '前天晚上十点左右看到一个穿黑色连帽衫的男子在五山路口徘徊。';

describe('the tips inbox', () => {
  let w: WantedWorld;
  let base: string;
  let tipId: string;

  beforeAll(async () => {
    w = await startWantedWorld();
    base = await w.t.app.listen({ host: '127.0.0.1', port: 0 });
    // The resident opens the page and posts its form, as a phone's browser does.
    const page = await httpRequest(base, `/n/${w.noticeId}`, {
      from: SENDER_ADDRESS,
      headers: { 'user-agent': SENDER_AGENT },
    });
    expect(page.status).toBe(200);
    const action = /<form method="post" action="([^"]+)"/.exec(page.body)?.[1];
    expect(action).toBe(`/n/${w.noticeId}/tips`);
    const form = formData(
      { text: TIP_TEXT, phone: '13912345678' },
      { name: 'photo', filename: 'IMG_0001.jpg', data: await photo(800, 600), mime: 'image/jpeg' },
    );
    const posted = await httpRequest(base, action!, {
      method: 'POST',
      from: SENDER_ADDRESS,
      headers: { 'content-type': form.contentType, 'user-agent': SENDER_AGENT, referer: `${base}/n/${w.noticeId}` },
      body: form.body,
    });
    expect(posted.status, posted.body).toBe(303);
    expect(posted.headers.location).toBe(`/n/${w.noticeId}?tip=received#tip`);
    const thanks = await httpRequest(base, posted.headers.location!, {
      from: SENDER_ADDRESS,
      headers: { 'user-agent': SENDER_AGENT },
    });
    expect(pageText(thanks.body)).toContain('您的线索已收到');
    expect(thanks.headers['cache-control']).toBe('no-store');
  });

  afterAll(() => w.close());

  it('when a tip arrives, then the case officer finds it in their inbox with its phone and photo', async () => {
    const inbox = await w.t.request('GET', '/api/tips', w.officer.token);
    expect(inbox.statusCode, inbox.body).toBe(200);
    expect(inbox.json()).toHaveLength(1);
    const [tip] = inbox.json();
    expect(tip).toMatchObject({
      noticeId: w.noticeId,
      text: TIP_TEXT,
      phone: '13912345678',
      hasPhoto: true,
      status: 'new',
    });
    expect(tip.notified).toMatchObject({ status: 'sent', reason: null });
    tipId = tip.id;
    const picture = await w.t.request('GET', `/api/tips/${tipId}/photo`, w.officer.token);
    expect(picture.statusCode).toBe(200);
    expect(picture.headers['content-type']).toBe('image/jpeg');
    expect(picture.headers['cache-control']).toBe('private, no-store');
  });

  it('when someone outside the case asks, then the tip is in no one else’s inbox', async () => {
    const editorHere = await w.t.userToken('editor', TREE.countyA.code);
    expect((await w.t.request('GET', '/api/tips', editorHere.token)).json()).toHaveLength(1);
    const outsiders = [
      await w.t.userToken('editor', TREE.countyB.code),
      await w.t.userToken('admin', TREE.countyB.code),
      await w.t.userToken('officer', TREE.townshipA.code), // same station, not the case officer
      await w.t.userToken('viewer', TREE.countyA.code),
      await w.t.userToken('reviewer', TREE.countyA.code),
    ];
    for (const outsider of outsiders) {
      const inbox = await w.t.request('GET', '/api/tips', outsider.token);
      expect(inbox.statusCode).toBe(200);
      expect(inbox.json()).toEqual([]);
      expect((await w.t.request('GET', `/api/tips/${tipId}`, outsider.token)).statusCode).toBe(404);
      expect((await w.t.request('PATCH', `/api/tips/${tipId}`, outsider.token, { status: 'closed' })).statusCode).toBe(
        404,
      );
      expect((await w.t.request('GET', `/api/tips/${tipId}/photo`, outsider.token)).statusCode).toBe(404);
    }
    // The photo is not public either.
    const photos = await mongoose.connection.db!.collection('tipphotos.files').find().toArray();
    expect(photos).toHaveLength(1);
    expect((await w.t.app.inject({ method: 'GET', url: `/media/${photos[0]!._id}` })).statusCode).toBe(404);
  });

  it('tells the case officer’s robot a count and a link, never the tip’s text or phone', () => {
    const messages = w.doubles.received({ platform: 'wecom', robot: w.officerRobotKey });
    expect(messages).toHaveLength(1);
    const text = JSON.stringify(messages[0]!.body);
    expect(text).toContain('1 条新线索');
    expect(text).toContain(`https://jx.example.cn/tips?noticeId=${w.noticeId}`);
    expect(text).not.toContain('连帽衫');
    expect(text).not.toContain('13912345678');
  });

  it('when the officer reads and handles a tip, then each view and change is audited', async () => {
    const read = await w.t.request('GET', `/api/tips/${tipId}`, w.officer.token);
    expect(read.json().status).toBe('read');
    const handled = await w.t.request('PATCH', `/api/tips/${tipId}`, w.officer.token, {
      status: 'useful',
      note: '已核实，转侦查',
    });
    expect(handled.statusCode, handled.body).toBe(200);
    expect(handled.json()).toMatchObject({ status: 'useful', note: '已核实，转侦查' });
    const bad = await w.t.request('PATCH', `/api/tips/${tipId}`, w.officer.token, { status: 'lost' });
    expect(bad.statusCode).toBe(400);
    const audit = await w.t.request('GET', '/api/audit?limit=200', w.t.adminToken);
    const actions = audit
      .json()
      .map((entry: { action: string; targetId: string | null }) => `${entry.action}:${entry.targetId}`);
    for (const action of ['tip.receive', 'tip.list', 'tip.view', 'tip.update', 'tip.photo_view']) {
      expect(
        actions.some((a: string) => a.startsWith(`${action}:`)),
        action,
      ).toBe(true);
    }
    expect(actions).toContain(`tip.update:${tipId}`);
  });

  it('stores no IP address or user agent of the sender anywhere in the database', async () => {
    const db = mongoose.connection.db!;
    const collections = await db.listCollections().toArray();
    expect(collections.map((c) => c.name)).toContain('tips');
    for (const { name } of collections) {
      const dump = JSON.stringify(await db.collection(name).find().toArray());
      expect(dump.includes(SENDER_ADDRESS), `${name} holds the sender's address`).toBe(false);
      expect(dump.includes('TipSenderPhone-7f3a9'), `${name} holds the sender's user agent`).toBe(false);
    }
    const tip = await db.collection('tips').findOne({});
    expect(Object.keys(tip!).sort()).toEqual(
      [
        '_id',
        'contactUserId',
        'noticeId',
        'note',
        'notified',
        'phone',
        'photoSha256',
        'receivedAt',
        'regionPath',
        'status',
        'text',
        'updatedAt',
        'updatedBy',
      ].sort(),
    );
    expect(w.t.logs()).not.toContain('TipSenderPhone-7f3a9');
  });

  it('writes nothing about the sender (address, user agent, the redirect after the form) to any log line', () => {
    const lines = w.t.logs().split('\n').filter(Boolean);
    // The service logged the requests (so the test can fail), just not who made them.
    expect(lines.some((line) => line.includes(`/n/${w.noticeId}/tips`))).toBe(true);
    for (const line of lines) {
      expect(line.includes(SENDER_ADDRESS), `a log line names the sender's address: ${line}`).toBe(false);
      expect(line.includes('TipSenderPhone-7f3a9'), `a log line names the sender's user agent: ${line}`).toBe(false);
      expect(line.includes('tip=received'), `a log line shows the redirect after a tip: ${line}`).toBe(false);
    }
  });
});
