// A county's choice for the text its officers forward by hand: with the group's short link
// last (the default), or without any link, for counties whose officers forward the picture,
// whose QR code carries the link (an anti-fraud text that tells villagers not to tap strange
// links then carries none). Stored per county; read by the engine, the test send and the
// manual previews through `withoutLink`, cached 30 s per process (a change on another
// server takes effect within that).
import mongoose from 'mongoose';
import type { Clock } from '../../lib/clock.js';

const countyTextSchema = new mongoose.Schema(
  {
    /** The county's region code. */
    _id: { type: String, required: true },
    withoutLink: { type: Boolean, required: true },
    updatedAt: { type: Date, required: true },
    updatedBy: { type: String, required: true },
  },
  { versionKey: false },
);

export const CountyOfficerTextModel = mongoose.model('CountyOfficerText', countyTextSchema, 'countyofficertexts');

export interface CountyOfficerText {
  countyCode: string;
  withoutLink: boolean;
  updatedAt: Date | null;
  updatedBy: string | null;
}

const CACHE_MS = 30_000;

export class CountyOfficerTextService {
  readonly #cache = new Map<string, { withoutLink: Promise<boolean>; until: number }>();

  constructor(private readonly clock: Clock) {}

  /** The county's setting (the default, with the link, when never set). */
  async get(countyCode: string): Promise<CountyOfficerText> {
    const doc = await CountyOfficerTextModel.findById(countyCode).lean();
    return {
      countyCode,
      withoutLink: doc?.withoutLink ?? false,
      updatedAt: doc?.updatedAt ?? null,
      updatedBy: doc?.updatedBy ?? null,
    };
  }

  /** Sets the county's choice (one document per county, replaced whole). */
  async set(countyCode: string, withoutLink: boolean, by: string): Promise<CountyOfficerText> {
    const updatedAt = this.clock.now();
    await CountyOfficerTextModel.updateOne(
      { _id: countyCode },
      { $set: { withoutLink, updatedAt, updatedBy: by } },
      { upsert: true },
    );
    this.#cache.delete(countyCode);
    return { countyCode, withoutLink, updatedAt, updatedBy: by };
  }

  /**
   * Whether officers of the county forward texts without the link (cached 30 s; the sends of
   * one wave asking at once share one read).
   */
  async withoutLink(countyCode: string): Promise<boolean> {
    const now = this.clock.now().getTime();
    const hit = this.#cache.get(countyCode);
    if (hit && hit.until > now) return hit.withoutLink;
    const withoutLink = this.get(countyCode).then((setting) => setting.withoutLink);
    this.#cache.set(countyCode, { withoutLink, until: now + CACHE_MS });
    withoutLink.catch(() => {
      if (this.#cache.get(countyCode)?.withoutLink === withoutLink) this.#cache.delete(countyCode);
    });
    return withoutLink;
  }
}
