// Password hashing with scrypt (node:crypto, no native add-on). Stored form:
// scrypt$N$r$p$salt$hash, so the cost can be raised later without breaking old hashes.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

// N = 2^15 (32 MB per hash; issue 26.12 raised it from 2^14). Hashes of a lower cost are
// replaced at the next successful login (needsRehash).
export const PASSWORD_COST = { N: 32768, r: 8, p: 1 } as const;
let cost: { N: number; r: number; p: number } = PASSWORD_COST;

/**
 * Tests only (test/helpers/setup.ts): new hashes at another N. The suite signs in thousands of
 * times, each a tenth of a second of CPU at PASSWORD_COST; the service never calls this, and
 * test/security/password-cost.test.ts sets PASSWORD_COST.N back. Hashing and checking work the
 * same at any N (the stored hash names its own).
 */
export function setPasswordCostForTests(N: number): void {
  cost = { ...PASSWORD_COST, N };
}
const KEY_LENGTH = 64;

function derive(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { N, r, p, maxmem: 128 * 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, cost.N, cost.r, cost.p);
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await derive(password, Buffer.from(salt, 'base64'), Number(n), Number(r), Number(p));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Whether a stored hash was made with less than today's cost (then rehash on login). */
export function needsRehash(stored: string): boolean {
  const [scheme, n, r, p] = stored.split('$');
  return scheme !== 'scrypt' || Number(n) < cost.N || Number(r) < cost.r || Number(p) < cost.p;
}

/** A hash of a random password at today's cost, for spending the same time on unknown usernames. */
export function dummyHash(): string {
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$AAAAAAAAAAAAAAAAAAAAAA==$` + Buffer.alloc(KEY_LENGTH).toString('base64');
}
