// Finding 8 of issue 15: ids arrive in either case of hex, but code keys on them as strings
// (session revocation, review claims). They are made lower-case once, at the edge.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { canonicalIds } from '../../src/http/access.js';
import { ObjectIdString, Nullable } from '../../src/lib/schemas.js';
import { ReviewDecisionModel } from '../../src/notices/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { noticeBody } from '../helpers/notices.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('ids canonicalised at the edge', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it('when an admin resets a password through an upper-case id, then the old sessions end', async () => {
    const user = await t.userToken('editor', TREE.countyA.code);
    const reset = await t.request('PATCH', `/api/users/${user.id.toUpperCase()}`, t.adminToken, {
      password: 'a-new-password-by-admin',
    });
    expect(reset.statusCode, reset.body).toBe(200);
    expect(reset.json().id).toBe(user.id);
    expect((await t.request('GET', '/api/auth/me', user.token)).statusCode).toBe(401);
  });

  it('when a notice is approved through an upper-case id, then the review claim is keyed on the stored id', async () => {
    const editor = await t.userToken('editor', TREE.countyA.code);
    const reviewer = await t.userToken('reviewer', TREE.countyA.code);
    const created = await t.request(
      'POST',
      '/api/notices',
      editor.token,
      noticeBody({ regionCode: TREE.countyA.code }),
    );
    expect(created.statusCode, created.body).toBe(201);
    const id: string = created.json().id;
    expect((await t.request('POST', `/api/notices/${id}/submit`, editor.token)).statusCode).toBe(200);
    const approved = await t.request('POST', `/api/notices/${id.toUpperCase()}/approve`, reviewer.token, {});
    expect(approved.statusCode, approved.body).toBe(200);
    const claims = await ReviewDecisionModel.find({}).lean();
    expect(claims.map((claim) => claim.noticeId)).toEqual([id]);
  });

  it('lower-cases ids wherever the schema names one, and nothing else', () => {
    const schema = Type.Object({
      noticeId: ObjectIdString,
      followUp: Type.Optional(Nullable(ObjectIdString)),
      groups: Type.Array(ObjectIdString),
      password: Type.String(),
    });
    const upper = 'ABCDEF0123456789ABCDEF01';
    expect(canonicalIds(schema, { noticeId: upper, followUp: upper, groups: [upper], password: upper })).toEqual({
      noticeId: upper.toLowerCase(),
      followUp: upper.toLowerCase(),
      groups: [upper.toLowerCase()],
      password: upper,
    });
  });
});
