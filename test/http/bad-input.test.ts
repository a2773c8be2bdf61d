// Bad input of every kind gets a clear 4xx naming the problem, and nothing is written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegionModel } from '../../src/regions/model.js';
import { UserModel } from '../../src/auth/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

describe('bad input', () => {
  let t: TestApp;
  const validUser = {
    username: 'newuser',
    displayName: '新用户',
    password: 'a-long-password',
    role: 'editor',
    regionCode: TREE.countyA.code,
  };

  beforeAll(async () => {
    t = await startTestApp({ env: { BODY_LIMIT_BYTES: '4096' } });
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  async function expectNothingWritten(run: () => Promise<void>) {
    const users = await UserModel.countDocuments();
    const regions = await RegionModel.countDocuments();
    await run();
    expect(await UserModel.countDocuments()).toBe(users);
    expect(await RegionModel.countDocuments()).toBe(regions);
  }

  it('refuses an unknown field and names it', async () => {
    await expectNothingWritten(async () => {
      const response = await t.request('POST', '/api/users', t.adminToken, { ...validUser, isSuperuser: true });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'invalid_input', field: 'body.isSuperuser' });
      expect(response.json().message).toContain('isSuperuser');
    });
  });

  it('refuses a wrong type and says which type was expected', async () => {
    await expectNothingWritten(async () => {
      const response = await t.request('POST', '/api/users', t.adminToken, { ...validUser, displayName: 42 });
      expect(response.statusCode).toBe(400);
      expect(response.json().message).toContain('displayName');
    });
  });

  it('refuses a missing field, a blank name and a role that does not exist', async () => {
    const { displayName: _, ...withoutName } = validUser;
    for (const body of [withoutName, { ...validUser, displayName: '   ' }, { ...validUser, role: 'superuser' }]) {
      await expectNothingWritten(async () => {
        const response = await t.request('POST', '/api/users', t.adminToken, body);
        expect(response.statusCode, JSON.stringify(body)).toBe(400);
        expect(response.json().code).toBe('invalid_input');
      });
    }
  });

  it('refuses field names starting with $ anywhere in a body or a query', async () => {
    await expectNothingWritten(async () => {
      const body = await t.request('POST', '/api/auth/login', null, { username: { $ne: null }, password: 'x' });
      expect(body.statusCode).toBe(400);
      expect(body.json().message).toContain('$ne');
      const nested = await t.request('POST', '/api/users', t.adminToken, { ...validUser, $where: 'sleep(1000)' });
      expect(nested.statusCode).toBe(400);
      const query = await t.request('GET', '/api/regions?parent[$gt]=0', t.adminToken);
      expect(query.statusCode).toBe(400);
    });
  });

  it('refuses malformed JSON with a 400 that says so', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/users',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
      payload: '{"username": "x",',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toContain('JSON');
  });

  it('refuses an oversized body with 413', async () => {
    const response = await t.request('POST', '/api/users', t.adminToken, {
      ...validUser,
      displayName: '长'.repeat(5000),
    });
    expect(response.statusCode).toBe(413);
    expect(response.json().code).toBe('payload_too_large');
  });

  it('refuses a body that is not JSON: 415 for an unknown type, 400 for plain text', async () => {
    const send = (contentType: string) =>
      t.app.inject({
        method: 'POST',
        url: '/api/users',
        headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': contentType },
        payload: 'username=x',
      });
    expect((await send('application/xml')).statusCode).toBe(415);
    const text = await send('text/plain');
    expect(text.statusCode).toBe(400);
    expect(text.json().code).toBe('invalid_input');
  });

  it('refuses a malformed id in the path with 400, and an unknown one with 404', async () => {
    expect((await t.request('GET', '/api/users/not-an-id', t.adminToken)).statusCode).toBe(400);
    const unknown = await t.request('GET', '/api/users/0123456789abcdef01234567', t.adminToken);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('not_found');
  });

  it('refuses an Authorization header that is not a bearer token', async () => {
    const response = await t.app.inject({
      method: 'GET',
      url: '/api/auth/me',
      headers: { authorization: 'Basic YWRtaW46YWRtaW4=' },
    });
    expect(response.statusCode).toBe(401);
  });

  it('answers an unknown path with a 404 in the same JSON shape', async () => {
    const response = await t.request('GET', '/api/nothing-here', t.adminToken);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ statusCode: 404, code: 'not_found' });
  });

  it('refuses a duplicate username with 409 and keeps the first account', async () => {
    const first = await t.request('POST', '/api/users', t.adminToken, { ...validUser, username: 'twice' });
    expect(first.statusCode).toBe(201);
    const second = await t.request('POST', '/api/users', t.adminToken, {
      ...validUser,
      username: 'twice',
      displayName: '第二个',
    });
    expect(second.statusCode).toBe(409);
    expect(second.json().field).toBe('username');
    expect((await UserModel.findOne({ username: 'twice' }).lean())?.displayName).toBe('新用户');
  });
});
