// Issue 26, finding 11: a wanted notice's case officer (who receives its tips) must be active
// staff inside the notice's scope (or whose scope covers it), never any user nationwide; every
// refusal says the same, so user ids cannot be probed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { WANTED, noticeBody } from '../helpers/notices.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('a case officer', () => {
  let t: TestApp;
  let editor: string;

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    editor = (await t.userToken('editor', TREE.countyA.code)).token;
  });
  afterAll(() => t.close());

  const wantedWith = (contactUserId: string) =>
    t.request(
      'POST',
      '/api/notices',
      editor,
      noticeBody({ category: 'wanted_clue', regionCode: TREE.countyA.code, wanted: { ...WANTED, contactUserId } }),
    );

  it('refuses an officer of another county, a viewer of the same county and an unknown id alike', async () => {
    const stranger = await t.userToken('officer', TREE.countyB.code);
    const viewer = await t.userToken('viewer', TREE.countyA.code);
    const messages = new Set<string>();
    for (const id of [stranger.id, viewer.id, 'aaaaaaaaaaaaaaaaaaaaaaaa']) {
      const answer = await wantedWith(id);
      expect(answer.statusCode, answer.body).toBe(400);
      expect(answer.json().field).toBe('wanted.contactUserId');
      messages.add(answer.json().message.replace(id, '<id>'));
    }
    expect(messages.size).toBe(1);
  });

  it('accepts an officer of a township inside the county and one of the city above it', async () => {
    const township = await t.userToken('officer', TREE.townshipA.code);
    expect((await wantedWith(township.id)).statusCode).toBe(201);
    const city = await t.userToken('officer', TREE.city.code);
    expect((await wantedWith(city.id)).statusCode).toBe(201);
  });
});
