// Short tracked links: /t/<8 characters>, kept in the database with what the link was made
// for (campaign, group, notice, village). An officer forwards them into personal WeChat
// groups and a villager reads them: an anti-fraud message must not carry an 80-character
// random link, and WeChat warns on long unknown ones.
//
// The code is derived, not random: base62 of an HMAC of the target under the link secret, so
// a retried send makes the same link, two workers making one race to the same unique _id,
// and making a link the process made before costs no write. 8 base62 characters are 47.6
// bits: with a million live links a guess finds one with odds of 1 in 200 million, at the
// 60-per-minute rate limit of /t/ per address. A (vanishingly rare) collision with another
// target takes one more character.
import { createHmac } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import mongoose from 'mongoose';
import { isDuplicateKey } from '../lib/errors.js';
import type { LinkTarget } from './links.js';

export const SHORT_CODE_LENGTH = 8;
const MAX_CODE_LENGTH = 12;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const SHORT_CODE = /^[0-9A-Za-z]{8,12}$/;

const shortLinkSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    campaignId: { type: String, required: true },
    groupId: { type: String, default: null },
    noticeId: { type: String, required: true },
    villageCode: { type: String, default: null },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export const ShortLinkModel = mongoose.model('ShortLink', shortLinkSchema, 'shortlinks');

function base62(bytes: Buffer, length: number): string {
  let value = BigInt(`0x${bytes.toString('hex')}`);
  let out = '';
  for (let i = 0; i < length; i++) {
    out += ALPHABET[Number(value % 62n)];
    value /= 62n;
  }
  return out;
}

interface WriteError {
  index: number;
  code?: number;
}

const storedKey = (target: LinkTarget) =>
  [target.campaignId, target.groupId ?? '', target.noticeId, target.villageCode ?? ''].join('|');

const sameTarget = (a: LinkTarget, b: LinkTarget) =>
  a.campaignId === b.campaignId &&
  (a.groupId ?? null) === (b.groupId ?? null) &&
  a.noticeId === b.noticeId &&
  (a.villageCode ?? null) === (b.villageCode ?? null);

export class ShortLinks {
  /** Codes this process stored (or found stored): making them again needs no write. */
  private readonly stored = new LRUCache<string, string>({ max: 100_000 });

  constructor(
    private readonly secret: () => Buffer,
    private readonly now: () => Date,
  ) {}

  /** The code a target gets at a length (deterministic). */
  codeFor(target: LinkTarget, length = SHORT_CODE_LENGTH): string {
    const key = [target.campaignId, target.groupId ?? '', target.noticeId, target.villageCode ?? ''].join('\n');
    const mac = createHmac('sha256', this.secret()).update(`short-link\n${key}`).digest();
    return base62(mac, length);
  }

  /**
   * Stores the short codes of many targets in one insert (a worker's wave of sends: one
   * command instead of one per card); `code` then finds them made. A code found taken is
   * left to `code`, which tells a retry (same target) from a collision.
   */
  async prepare(targets: readonly LinkTarget[]): Promise<void> {
    const docs = new Map<string, { key: string; doc: Record<string, unknown> }>();
    for (const target of targets) {
      const key = storedKey(target);
      if (this.stored.has(key)) continue;
      const code = this.codeFor(target);
      docs.set(code, {
        key,
        doc: {
          _id: code,
          campaignId: target.campaignId,
          groupId: target.groupId ?? null,
          noticeId: target.noticeId,
          villageCode: target.villageCode ?? null,
          createdAt: this.now(),
        },
      });
    }
    if (docs.size === 0) return;
    const entries = [...docs.values()];
    let failed = new Set<number>();
    try {
      await ShortLinkModel.collection.insertMany(entries.map((e) => e.doc) as never[], { ordered: false });
    } catch (error) {
      // Codes stored before (a retry, another worker) or taken: `code` looks at each one.
      const raw = (error as { writeErrors?: WriteError[] | WriteError }).writeErrors;
      const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
      if (list.length === 0 || list.some((e) => e.code !== 11000)) throw error;
      failed = new Set(list.map((e) => e.index));
    }
    entries.forEach((entry, i) => {
      if (!failed.has(i)) this.stored.set(entry.key, entry.doc._id as string);
    });
  }

  /** The short code for a target, stored once. */
  async code(target: LinkTarget): Promise<string> {
    const key = storedKey(target);
    const known = this.stored.get(key);
    if (known) return known;
    for (let length = SHORT_CODE_LENGTH; length <= MAX_CODE_LENGTH; length++) {
      const code = this.codeFor(target, length);
      try {
        await ShortLinkModel.create({
          _id: code,
          campaignId: target.campaignId,
          groupId: target.groupId ?? null,
          noticeId: target.noticeId,
          villageCode: target.villageCode ?? null,
          createdAt: this.now(),
        });
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        const existing = await this.resolve(code);
        // Made before for this target (a retry, another worker): the same link.
        if (!existing || !sameTarget(existing, target)) continue;
      }
      this.stored.set(key, code);
      return code;
    }
    throw new Error('no free short code for a tracked link');
  }

  /** The target of a stored code; null for anything unknown. */
  async resolve(code: string): Promise<LinkTarget | null> {
    if (!SHORT_CODE.test(code)) return null;
    const doc = await ShortLinkModel.findById(code).lean();
    if (!doc) return null;
    return {
      campaignId: doc.campaignId,
      groupId: doc.groupId ?? null,
      noticeId: doc.noticeId,
      villageCode: doc.villageCode ?? null,
    };
  }
}
