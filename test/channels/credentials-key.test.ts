import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/lib/cipher.js';
import { loadCredentialsKey } from '../../src/lib/credentials-key.js';

describe('credentials key and sealing', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('when CREDENTIALS_KEY is unset, then a key is generated once into DATA_DIR/credentials.key (0600) and reused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jx-key-'));
    dirs.push(dir);
    const first = loadCredentialsKey(undefined, join(dir, 'data'));
    const second = loadCredentialsKey(undefined, join(dir, 'data'));
    expect(first).toHaveLength(32);
    expect(second.equals(first)).toBe(true);
    expect(statSync(join(dir, 'data', 'credentials.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'data', 'credentials.key'), 'utf8').trim()).toBe(first.toString('hex'));
  });

  it('takes a configured key in hex or base64', () => {
    const hex = 'ab'.repeat(32);
    expect(loadCredentialsKey(hex, '/nonexistent').toString('hex')).toBe(hex);
    expect(loadCredentialsKey(Buffer.from(hex, 'hex').toString('base64'), '/nonexistent').toString('hex')).toBe(hex);
  });

  it('seals with a fresh IV each time, opens only with the same key and purpose, and detects tampering', () => {
    const box = new SecretBox(Buffer.alloc(32, 7));
    const a = box.seal('{"key":"secret"}', 'group-credentials');
    const b = box.seal('{"key":"secret"}', 'group-credentials');
    expect(a).not.toBe(b);
    expect(a).not.toContain('secret');
    expect(box.open(a, 'group-credentials')).toBe('{"key":"secret"}');
    expect(() => box.open(a, 'other-purpose')).toThrow();
    expect(() => new SecretBox(Buffer.alloc(32, 8)).open(a, 'group-credentials')).toThrow();
    const parts = a.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'), 'group-credentials')).toThrow();
  });
});
