// Issue 26, finding 12: scrypt's cost is raised above N=2^14, and a password hashed at the old
// cost is rehashed at the next successful login (never on a failed one).
import { randomBytes, scryptSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserModel } from '../../src/auth/model.js';
import { PASSWORD_COST, setPasswordCostForTests } from '../../src/lib/password.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

/** A hash as the service stored it before: scrypt N=2^14, r=8, p=1. */
function oldHash(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize('NFKC'), salt, 64, { N: 16384, r: 8, p: 1 });
  return ['scrypt', 16384, 8, 1, salt.toString('base64'), key.toString('base64')].join('$');
}

describe('password hashing cost', () => {
  let t: TestApp;
  beforeAll(async () => {
    // The service's own cost (the other files hash at a test cost: test/helpers/setup.ts).
    setPasswordCostForTests(PASSWORD_COST.N);
    t = await startTestApp();
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it('hashes new passwords above N=2^14 and rehashes an old hash at the next successful login', async () => {
    const user = await t.userToken('editor', TREE.countyA.code);
    const stored = await UserModel.findOne({ username: user.username }).lean();
    expect(Number(stored!.passwordHash.split('$')[1])).toBeGreaterThan(16384);

    const password = `pw-${user.username}-secret`;
    await UserModel.updateOne({ username: user.username }, { $set: { passwordHash: oldHash(password) } });
    await expect(t.login(user.username, 'not-the-password')).rejects.toThrow();
    expect((await UserModel.findOne({ username: user.username }).lean())!.passwordHash).toMatch(/^scrypt\$16384\$/);
    await t.login(user.username, password);
    const after = (await UserModel.findOne({ username: user.username }).lean())!.passwordHash;
    expect(Number(after.split('$')[1])).toBeGreaterThan(16384);
    expect(await t.login(user.username, password)).toMatch(/^jx_/);
  });
});
