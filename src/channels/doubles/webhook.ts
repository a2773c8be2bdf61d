// Receiver double for the generic signed webhook: POST /webhook/:id, checks the signature
// over the raw body, drops repeats of a delivery id, optional per-minute limit with 429.
import {
  verifyWebhookSignature,
  WEBHOOK_DELIVERY_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from '../webhook/sign.js';
import { RateWindow } from './rate-window.js';
import type { HandlerResult, IncomingCall, WebhookReceiver } from './types.js';

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
    const header = (name: string) => String(call.headers[name] ?? '');
    const verdict = verifyWebhookSignature(
      receiver.secret,
      header(WEBHOOK_TIMESTAMP_HEADER),
      call.body,
      header(WEBHOOK_SIGNATURE_HEADER),
      Math.floor(call.now.getTime() / 1000),
    );
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
    const delivery = header(WEBHOOK_DELIVERY_HEADER);
    if (delivery && this.#seen.has(`${receiver.id}:${delivery}`)) return json(200, { ok: true, duplicate: true });
    if (delivery) this.#seen.add(`${receiver.id}:${delivery}`);
    this.#window.hit(receiver.id, now);
    return { ...json(200, { ok: true }), accepted: { robot: receiver.id, type: String(body.type ?? ''), body } };
  }
}
