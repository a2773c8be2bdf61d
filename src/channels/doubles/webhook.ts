// Receiver double for the generic signed webhook: POST /webhook/:id, checks the signature
// over the raw body, drops repeats of a delivery id, optional per-minute limit with 429.
// It verifies the way a county's receiver would, from the protocol in docs/channels.md,
// with its own code: sharing the adapter's signing would let a wrong signature pass.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { RateWindow } from './rate-window.js';
import type { HandlerResult, IncomingCall, WebhookReceiver } from './types.js';

/** docs/channels.md: receivers refuse a timestamp more than 300 s away from their clock. */
const MAX_AGE_SECONDS = 300;

/** The receiver's side of the protocol: 'ok', or why the request is refused. */
function verify(secret: string, call: IncomingCall): 'ok' | 'missing_delivery_id' | 'stale' | 'bad_signature' {
  const header = (name: string) => String(call.headers[name] ?? '');
  const id = header('x-jingxun-delivery');
  const timestamp = header('x-jingxun-timestamp');
  if (!id) return 'missing_delivery_id';
  const now = Math.floor(call.now.getTime() / 1000);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now - Number(timestamp)) > MAX_AGE_SECONDS) return 'stale';
  const mac = createHmac('sha256', secret);
  mac.update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), call.body]));
  const expected = Buffer.from(`sha256=${mac.digest('hex')}`);
  const given = Buffer.from(header('x-jingxun-signature'));
  return expected.length === given.length && timingSafeEqual(expected, given) ? 'ok' : 'bad_signature';
}

function json(status: number, body: object, headers?: Record<string, string>): HandlerResult {
  return { status, body: JSON.stringify(body), headers };
}

export class WebhookDouble {
  readonly robots = new Map<string, WebhookReceiver>();
  readonly #window = new RateWindow(Number.MAX_SAFE_INTEGER, 60_000);
  readonly #seen = new Set<string>();

  reset(): void {
    this.#window.reset();
    this.#seen.clear();
  }

  handle(call: IncomingCall): HandlerResult {
    const receiver = this.robots.get(call.robot);
    if (!receiver) return json(404, { error: 'unknown receiver' });
    const verdict = verify(receiver.secret, call);
    if (verdict !== 'ok') return json(401, { error: verdict });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(call.body.toString('utf8'));
    } catch {
      return json(400, { error: 'invalid json' });
    }
    const now = call.now.getTime();
    if (receiver.perMinute !== undefined && this.#window.count(receiver.id, now) >= receiver.perMinute) {
      return json(429, { error: 'too many requests' }, { 'retry-after': '60' });
    }
    // verify() made sure the id is there and signed.
    const delivery = `${receiver.id}:${String(call.headers['x-jingxun-delivery'])}`;
    if (this.#seen.has(delivery)) return json(200, { ok: true, duplicate: true });
    this.#seen.add(delivery);
    this.#window.hit(receiver.id, now);
    return { ...json(200, { ok: true }), accepted: { robot: receiver.id, type: String(body.type ?? ''), body } };
  }
}
