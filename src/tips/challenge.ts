// The arithmetic question a tip must answer once a notice is past its per-notice cap
// (issue 26, finding 4): instead of closing the form for every resident, a sender past the
// cap shows a little work. The page has no script (its CSP forbids any), so no browser
// proof-of-work: a question in Chinese numerals ("二十三加七等于多少？"), answered in digits,
// needing no third-party service.
//
// Stateless: the form carries `<expiry>.<nonce>.<mac>` where mac = HMAC(key, notice, expiry,
// nonce, answer). The answer is never in the form; checking it recomputes the MAC with the
// typed answer. A token answers one tip: its nonce is remembered in memory until it expires
// (with N API processes a solved question could serve N tips, like the other per-process
// limits). The key derives from CREDENTIALS_KEY, so every process accepts every process's
// questions. What it stops: a flooding script that posts the form blind; what it does not: a
// script written for this page (it still meets the per-sender limit).
import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export const CHALLENGE_TTL_MS = 30 * 60_000;

const DIGITS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/** 0–99 in Chinese numerals: 7 七, 10 十, 17 十七, 30 三十, 46 四十六. */
export function chineseNumber(n: number): string {
  if (n < 10) return DIGITS[n]!;
  const tens = Math.floor(n / 10);
  const ones = n % 10;
  return `${tens === 1 ? '' : DIGITS[tens]}十${ones === 0 ? '' : DIGITS[ones]}`;
}

export interface Challenge {
  question: string;
  token: string;
}

/** Full-width digits and spaces as a phone keyboard may type them. */
function normaliseAnswer(answer: string): string {
  return answer.replace(/[０-９]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0)).replace(/\s+/g, '');
}

export class TipChallenges {
  private readonly used = new Map<string, number>();

  constructor(private readonly key: Buffer) {}

  private mac(noticeId: string, expires: number, nonce: string, answer: string): Buffer {
    return createHmac('sha256', this.key).update(`${noticeId}.${expires}.${nonce}.${answer}`).digest();
  }

  /** A new question for a notice's form. */
  issue(noticeId: string, now: Date): Challenge {
    const a = randomInt(11, 50);
    const b = randomInt(2, 10);
    const plus = randomInt(0, 2) === 1;
    const answer = plus ? a + b : a - b;
    const expires = Math.floor((now.getTime() + CHALLENGE_TTL_MS) / 1000);
    const nonce = randomBytes(12).toString('base64url');
    const mac = this.mac(noticeId, expires, nonce, String(answer)).toString('base64url');
    return {
      question: `${chineseNumber(a)}${plus ? '加' : '减'}${chineseNumber(b)}等于多少？`,
      token: `${expires}.${nonce}.${mac}`,
    };
  }

  /**
   * Whether the answer solves the token's question for this notice, unexpired and unused;
   * a solved token is spent. 'missing' when no answer came, 'wrong' otherwise.
   */
  redeem(noticeId: string, token: string | null | undefined, answer: string | null | undefined, now: Date) {
    if (!token || !answer?.trim()) return 'missing' as const;
    const [expiresText, nonce, mac] = token.split('.');
    const expires = Number(expiresText);
    if (!nonce || !mac || !Number.isSafeInteger(expires) || expires * 1000 <= now.getTime()) return 'wrong' as const;
    const expected = this.mac(noticeId, expires, nonce, normaliseAnswer(answer));
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'wrong' as const;
    this.forgetExpired(now);
    if (this.used.has(nonce)) return 'wrong' as const;
    this.used.set(nonce, expires * 1000);
    return 'solved' as const;
  }

  private forgetExpired(now: Date): void {
    if (this.used.size < 1000) return;
    for (const [nonce, until] of this.used) if (until <= now.getTime()) this.used.delete(nonce);
  }
}
