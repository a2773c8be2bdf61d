// The tip form's limiter: per sender and per notice, keyed on a hash that changes every day.
import { describe, expect, it } from 'vitest';
import { TipLimiter } from '../../src/tips/limits.js';

const at = (iso: string) => new Date(iso);
const OK = { kind: 'ok' };

describe('tip limits', () => {
  it('counts per sender across notices and per notice across senders, then lets the window pass', () => {
    const limiter = new TipLimiter({ perSender: 2, perNotice: 3, windowMs: 60_000 });
    const t0 = '2025-07-01T02:00:00.000Z';
    expect(limiter.take('10.0.0.1', 'n1', at(t0), '2025-07-01')).toEqual(OK);
    expect(limiter.take('10.0.0.1', 'n2', at(t0), '2025-07-01')).toEqual(OK);
    expect(limiter.take('10.0.0.1', 'n1', at(t0), '2025-07-01')).toEqual({ kind: 'wait', seconds: 60 });
    expect(limiter.take('10.0.0.2', 'n1', at(t0), '2025-07-01')).toEqual(OK);
    expect(limiter.take('10.0.0.3', 'n1', at(t0), '2025-07-01')).toEqual(OK);
    // n1 is at its cap of 3: a new sender must prove work first (issue 26, finding 4), then is counted.
    expect(limiter.busy('n1', at(t0))).toBe(true);
    expect(limiter.take('10.0.0.4', 'n1', at(t0), '2025-07-01')).toEqual({ kind: 'prove' });
    expect(limiter.take('10.0.0.4', 'n1', at(t0), '2025-07-01', true)).toEqual(OK);
    expect(limiter.take('10.0.0.4', 'n3', at(t0), '2025-07-01')).toEqual(OK);
    expect(limiter.take('10.0.0.1', 'n1', at('2025-07-01T02:01:00.000Z'), '2025-07-01')).toEqual(OK);
  });

  it('keys a sender by a keyed hash that is not the address and changes with the day', () => {
    const limiter = new TipLimiter();
    const today = limiter.senderKey('192.0.2.7', '2025-07-01');
    expect(today).not.toContain('192.0.2.7');
    expect(limiter.senderKey('192.0.2.7', '2025-07-01')).toBe(today);
    expect(limiter.senderKey('192.0.2.7', '2025-07-02')).not.toBe(today);
    expect(new TipLimiter().senderKey('192.0.2.7', '2025-07-01')).not.toBe(today);
  });
});
