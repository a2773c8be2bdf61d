// The service's own log lines outside a request (the engine's planner, …): pino, at the
// configured LOG_LEVEL, one JSON line each on stderr (a test app writes them to its captured
// log instead, test/helpers/app.ts). Requests are logged by fastify's logger (app.ts).
import type { Writable } from 'node:stream';
import pino from 'pino';

/** What a part of the service needs to log: structured fields and a message. */
export interface Log {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** `level`: pino's (fatal, error, warn, info, debug, trace, silent): the configured LOG_LEVEL. */
export function createLog(level: string, stream?: Writable): Log {
  return pino({ level, base: undefined }, stream ?? pino.destination({ dest: 2, sync: false }));
}

/** Logs nothing (parts built without a context's log). */
export const silentLog: Log = { info() {}, warn() {} };
