// The robots' transport: how far a POST got decides retry or uncertain, so a connection
// the server has already closed must never be written on.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_IDLE_REUSE_MS, postJson } from '../../src/channels/http-post.js';
import { doublesOutbound } from '../helpers/channels.js';

const SERVER_KEEP_ALIVE_MS = MAX_IDLE_REUSE_MS + 500;
// The server runs in a thread of its own, so that it keeps its clock while this thread stalls.
const SERVER = `
const http = require('node:http');
const { parentPort } = require('node:worker_threads');
// Answers with the client's port: which connection the request came on.
const server = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end(JSON.stringify({ port: req.socket.remotePort }))); });
server.keepAliveTimeout = ${SERVER_KEEP_ALIVE_MS};
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
`;

let server: Worker;
let url: string;
// One Outbound, so the posts share its kept-alive connections.
const outbound = doublesOutbound();

beforeAll(async () => {
  server = new Worker(SERVER, { eval: true });
  const [port] = await once(server, 'message');
  url = `http://127.0.0.1:${port}/robot`;
});
afterAll(() => server.terminate());

/** The client port of the connection a post went on. */
async function connectionOf(): Promise<number> {
  const result = await postJson(url, '{}', { timeoutMs: 5_000, outbound });
  if (result.kind !== 'answered') throw new Error(`not answered: ${result.kind}`);
  return JSON.parse(result.body).port;
}

/** Blocks this thread the way a busy or descheduled process does: no timers, no I/O. */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('postJson over kept-alive connections', () => {
  it('when the process stalled past the server keep-alive timeout, then the next post goes on a new connection instead of being reset', async () => {
    expect((await postJson(url, '{}', { timeoutMs: 5_000, outbound })).kind).toBe('answered');
    await new Promise((resolve) => setTimeout(resolve, 50)); // the connection is back in the pool
    // The server closes the idle connection meanwhile (Node's server allows a second more
    // than it announces); this thread has not yet seen it.
    stall(SERVER_KEEP_ALIVE_MS + 2_000);
    const results = await Promise.all(
      Array.from({ length: 4 }, () => postJson(url, '{}', { timeoutMs: 5_000, outbound })),
    );
    expect(results.map((r) => r.kind)).toEqual(['answered', 'answered', 'answered', 'answered']);
  });

  it('when posts follow each other closely, then they share one connection', async () => {
    const first = await connectionOf();
    expect(await connectionOf()).toBe(first);
    expect(await connectionOf()).toBe(first);
  });
});
