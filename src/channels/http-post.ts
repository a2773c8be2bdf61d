// A JSON POST that reports exactly how far it got, because that decides whether a failed
// send may be retried: a failure before the request was written cannot have posted
// anything (retryable); a timeout or reset after it was written may have (uncertain).
// node:http is used rather than fetch because fetch does not say whether the body was sent.
// Every post goes through an Outbound (outbound.ts): its allow-list decides which addresses
// may be connected to, and its agents hold the kept-alive connections.
import http from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import { OUTBOUND_REFUSED, type Outbound } from './outbound.js';

export type PostResult =
  | { kind: 'answered'; status: number; headers: http.IncomingHttpHeaders; body: string }
  /** Nothing reached the server (refused, DNS, TLS before the body). */
  | { kind: 'not-sent'; reason: string }
  /** The request was written; then the connection failed, timed out or was aborted. */
  | { kind: 'sent-no-answer'; reason: string }
  /** The address is not one the server may post to (outbound.ts); nothing was connected. */
  | { kind: 'refused' };

export interface PostOptions {
  outbound: Outbound;
  timeoutMs: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** POST (default) with the body; GET sends no body (WeCom's gettoken). */
  method?: 'GET' | 'POST';
}

/** Largest answer read from a robot; real answers are a few hundred bytes. */
const MAX_ANSWER_BYTES = 256 * 1024;

/**
 * A kept-alive connection is reused only while it is fresh. A server closes an idle
 * connection after its keep-alive timeout (Node's default 5 s, nginx's 75 s), and a request
 * written onto it at that moment is reset: after writing, which reads as "may have posted"
 * (uncertain). Node's agent retires a connection 1 s before the timeout the server announces,
 * but by a timer, so a process that was not scheduled for a second (a loaded machine) still
 * writes on it. Hence this check by the wall clock before each request, measured from the
 * start of the connection's last request, i.e. never later than the server's idle clock.
 */
export const MAX_IDLE_REUSE_MS = 2_000;
const lastRequestAt = new WeakMap<Socket, number>();

function retireIdleConnections(agent: http.Agent, now: number): void {
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of [...(sockets ?? [])]) {
      if (now - (lastRequestAt.get(socket) ?? 0) <= MAX_IDLE_REUSE_MS) continue;
      socket.destroy();
      // Takes it out of the agent's pool now (the documented event); 'close' would do it a tick later.
      socket.emit('agentRemove');
    }
  }
}

export function postJson(url: string, body: string | Buffer, options: PostOptions): Promise<PostResult> {
  return new Promise((resolve) => {
    const target = new URL(url);
    const { outbound } = options;
    // node:net connects to an address literal without a lookup, so literals are checked here.
    const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
    if (net.isIP(host) && !outbound.permits(host, host)) return resolve({ kind: 'refused' });
    const client = target.protocol === 'https:' ? https : http;
    const agent = target.protocol === 'https:' ? outbound.agents.https : outbound.agents.http;
    retireIdleConnections(agent, Date.now());
    const method = options.method ?? 'POST';
    const payload = method === 'GET' ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
    let written = false;
    let settled = false;
    const finish = (result: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const fail = (reason: string) =>
      finish(written ? { kind: 'sent-no-answer', reason } : { kind: 'not-sent', reason });

    const request = client.request(
      target,
      {
        method,
        agent,
        lookup: outbound.lookup,
        headers:
          method === 'GET'
            ? { ...options.headers }
            : {
                'content-type': 'application/json; charset=utf-8',
                'content-length': String(payload.length),
                ...options.headers,
              },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
        });
        response.on('end', () =>
          finish({
            kind: 'answered',
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', (error) =>
          fail(`answer interrupted: ${(error as NodeJS.ErrnoException).code ?? error.message}`),
        );
        response.on('aborted', () => fail('answer aborted'));
      },
    );
    const timer = setTimeout(() => {
      fail(`no answer within ${options.timeoutMs} ms`);
      request.destroy();
    }, options.timeoutMs);
    const onAbort = () => {
      fail('aborted by caller');
      request.destroy();
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    request.on('socket', (socket) => lastRequestAt.set(socket, Date.now()));
    request.on('finish', () => {
      written = true;
    });
    // Error codes only: a message could carry the URL, and the URL is a credential.
    request.on('error', (error) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === OUTBOUND_REFUSED) return finish({ kind: 'refused' });
      fail(code ?? 'connection error');
    });
    if (method === 'GET') request.end();
    else request.end(payload);
  });
}
