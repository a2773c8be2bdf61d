// Every authenticated request reads its session: on FerretDB anything but an `_id` read is a
// scan of every session, so a session is keyed by its token hash. Sessions an older version
// wrote (ObjectId `_id`) are re-keyed once at start and keep working.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionModel } from '../../src/auth/model.js';
import { rekeySessions } from '../../src/auth/sessions.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { sha256Hex } from '../../src/lib/secrets.js';
import { ADMIN_PASSWORD, type TestApp, startTestApp } from '../helpers/app.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';

describe('sessions read by their token hash', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('when a signed-in person calls the API, then their session is read by _id only', async () => {
    const token = await t.login('admin', ADMIN_PASSWORD);
    const seen = await commandsDuring(() => t.request('GET', '/api/auth/me', token));
    const sessionReads = seen.filter((c) => c.collection === 'sessions');
    expect(sessionReads.length).toBeGreaterThan(0);
    expect(sessionReads.filter((c) => !byIdOnly(c.filter))).toEqual([]);
  });

  it('when an older version wrote the sessions, then after the re-keying each token still works and logs out', async () => {
    const user = await mongoose.connection.collection('users').findOne({ username: 'admin' });
    const tokens: [string, string] = ['jx_old-session-one-0123456789', 'jx_old-session-two-0123456789'];
    const now = new Date();
    await SessionModel.collection.insertMany(
      tokens.map((token) => ({
        _id: new mongoose.Types.ObjectId(),
        tokenHash: sha256Hex(token),
        userId: String(user?._id),
        createdAt: now,
        expiresAt: new Date(now.getTime() + 3600_000),
        revokedAt: null,
        ip: null,
      })) as never[],
    );
    // Before the re-keying the old sessions are not found by their token.
    expect((await t.request('GET', '/api/auth/me', tokens[0])).statusCode).toBe(401);

    // A re-keying that died after copying the first session: the copy exists, the old one too.
    const first = await SessionModel.collection.findOne({ tokenHash: sha256Hex(tokens[0]) });
    await SessionModel.collection.insertOne({ ...first, _id: sha256Hex(tokens[0]) } as never);
    await BackfillModel.deleteOne({ _id: 'sessions-by-token-hash' });
    await rekeySessions();

    const ids = (await SessionModel.collection.find({}, { projection: { _id: 1 } }).toArray()).map((s) => s._id);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const token of tokens) {
      expect((await t.request('GET', '/api/auth/me', token)).statusCode).toBe(200);
    }
    expect((await t.request('POST', '/api/auth/logout', tokens[1])).statusCode).toBe(200);
    expect((await t.request('GET', '/api/auth/me', tokens[1])).statusCode).toBe(401);
    expect((await t.request('GET', '/api/auth/me', tokens[0])).statusCode).toBe(200);
  });
});
