// Builds the real app against the real database server, in a database of its own per
// test file, with logs captured so tests can check what was (not) logged.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import mongoose from 'mongoose';
import { inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { UserModel } from '../../src/auth/model.js';
import type { Role } from '../../src/auth/roles.js';
import { type Config, loadConfig } from '../../src/config.js';
import { type Context, createContext, prepareDatabase } from '../../src/context.js';
import { connectDatabase } from '../../src/db/connection.js';
import { type Clock, systemClock } from '../../src/lib/clock.js';

export const ADMIN_PASSWORD = 'admin-password-for-tests';

/** `mongodb://host[:port][,host…]/[db][?opts]` with the database name replaced. */
export function withDatabase(serverUri: string, dbName: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(?:\/[^?]*)?(\?.*)?$/.exec(serverUri);
  if (!match) throw new Error(`cannot parse ${serverUri}`);
  return `${match[1]}/${dbName}${match[2] ?? ''}`;
}

/** FerretDB allows latin letters only in database names. */
export function uniqueDbName(): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return 'jxtest' + Array.from(randomBytes(10), (b) => letters[b % 26]).join('');
}

export interface TestApp {
  app: FastifyInstance;
  ctx: Context;
  logs(): string;
  /** Bearer token of the bootstrap admin (scope: everything). */
  adminToken: string;
  login(username: string, password: string): Promise<string>;
  /**
   * As if the user had replaced the password an admin set (issue 26.9: admin-set passwords
   * must be changed first), so tests keep using it.
   */
  activate(username: string): Promise<void>;
  /** Creates a user with the role and region scope and returns a signed-in token. */
  userToken(role: Role, regionCode: string): Promise<{ token: string; id: string; username: string }>;
  request(
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    url: string,
    token?: string | null,
    body?: unknown,
  ): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  clock?: Clock;
  env?: Record<string, string>;
}

let userCounter = 0;

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const uri = withDatabase(inject('mongoServerUri'), uniqueDbName());
  const db = await connectDatabase(uri, { ferret: inject('mongoIsFerret'), monitorCommands: true });
  const config: Config = loadConfig({
    LOG_LEVEL: 'info',
    ADMIN_USERNAME: 'admin',
    ADMIN_PASSWORD,
    CREDENTIALS_KEY: 'a'.repeat(64),
    ...options.env,
  });
  let captured = '';
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      captured += chunk.toString();
      done();
    },
  });
  // The service's own log lines (lib/log.ts) go to the captured log too, not the terminal.
  const ctx = createContext(config, db, options.clock ?? systemClock, { logStream });
  await prepareDatabase(ctx);
  const app = await buildApp(ctx, { logStream });

  const request: TestApp['request'] = (method, url, token, body) =>
    app.inject({
      method,
      url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(body === undefined ? {} : { payload: body as object }),
    });

  const login = async (username: string, password: string) => {
    const response = await request('POST', '/api/auth/login', null, { username, password });
    if (response.statusCode !== 200) throw new Error(`login ${username} failed: ${response.body}`);
    return response.json().token as string;
  };

  const testApp: TestApp = {
    app,
    ctx,
    adminToken: await login('admin', ADMIN_PASSWORD),
    logs: () => captured,
    login,
    async activate(username) {
      // Set-up only, not the behaviour under test (test/security/admin-set-passwords.test.ts
      // goes through the API): a login and a password change per user would spend the 20 logins
      // a minute one address may make.
      await UserModel.updateOne({ username }, { $set: { mustChangePassword: false } });
    },
    request,
    async userToken(role, regionCode) {
      userCounter += 1;
      const username = `${role}${userCounter}${randomBytes(3).toString('hex')}`;
      const password = `pw-${username}-secret`;
      const created = await request('POST', '/api/users', testApp.adminToken, {
        username,
        displayName: `测试${role}`,
        password,
        role,
        regionCode,
      });
      if (created.statusCode !== 201) throw new Error(`create user failed: ${created.body}`);
      await testApp.activate(username);
      return { token: await login(username, password), id: created.json().id, username };
    },
    async close() {
      await app.close();
      await mongoose.connection.db?.dropDatabase().catch(() => undefined);
      await db.close();
    },
  };
  return testApp;
}
