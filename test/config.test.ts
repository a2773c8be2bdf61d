import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, processRole } from '../src/config.js';

describe('configuration', () => {
  it('runs with nothing set: embedded database under ./data, port 3000, Asia/Shanghai', () => {
    const config = loadConfig({});
    expect(config.mongodbUri).toBeUndefined();
    expect(config.dataDir).toMatch(/\/data$/);
    expect(config.port).toBe(3000);
    expect(config.timeZone).toBe('Asia/Shanghai');
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ MONGODB_URI: 'postgres://x' }, 'MONGODB_URI'],
    [{ TIME_ZONE: 'Mars/Olympus' }, 'TIME_ZONE'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ADMIN_PASSWORD: 'short' }, 'ADMIN_PASSWORD'],
    [{ CREDENTIALS_KEY: 'abc' }, 'CREDENTIALS_KEY'],
    [{ PUBLIC_BASE_URL: 'ftp://x' }, 'PUBLIC_BASE_URL'],
    // A send that could outlive its batch's lease would let a second worker post it too.
    [{ CHANNEL_TIMEOUT_MS: '40000' }, 'CHANNEL_TIMEOUT_MS'],
    [{ CHANNEL_TIMEOUT_MS: '6000', LEASE_SECONDS: '10' }, 'CHANNEL_TIMEOUT_MS'],
  ])('stops on %o with a message naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(variable);
  });

  it('reads the process role from --role or ROLE, refusing unknown ones', () => {
    expect(processRole([], {})).toBe('all');
    expect(processRole(['--role=worker'], {})).toBe('worker');
    expect(processRole([], { ROLE: 'api' })).toBe('api');
    expect(() => processRole(['--role=boss'], {})).toThrow('ROLE');
  });

  it('documents every variable it reads in .env.example', () => {
    const source = readFileSync('src/config.ts', 'utf8');
    const read = new Set([...source.matchAll(/env, '([A-Z_]+)'/g)].map((m) => m[1]!));
    const documented = readFileSync('.env.example', 'utf8');
    expect(read.size).toBeGreaterThan(10);
    for (const name of read) expect(documented, name).toMatch(new RegExp(`^${name}=`, 'm'));
  });

  it('is the only module that reads process.env', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && path !== join('src', 'config.ts')) {
          if (readFileSync(path, 'utf8').includes('process.env')) offenders.push(path);
        }
      }
    };
    walk('src');
    expect(offenders).toEqual([]);
  });
});
