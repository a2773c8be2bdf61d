// The secret that signs tracked links and keys unique visitors. LINK_SECRET when set;
// otherwise one generated on the first start and kept in the database, so every instance
// of an install signs alike and links stay valid across restarts. Never logged or returned.
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { isDuplicateKey } from '../lib/errors.js';

const secretSchema = new mongoose.Schema({ _id: String, value: String }, { versionKey: false });
const TrackingSecretModel = mongoose.model('TrackingSecret', secretSchema);
const SECRET_ID = 'link-secret';

export class LinkSecret {
  private value: Buffer | null;

  constructor(configured: string | undefined) {
    this.value = configured ? Buffer.from(configured, 'utf8') : null;
  }

  /** Loads (or, on the very first start, creates) the stored secret. Safe to race: a unique _id decides. */
  async load(): Promise<void> {
    if (this.value) return;
    try {
      await TrackingSecretModel.create({ _id: SECRET_ID, value: randomBytes(32).toString('base64url') });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const stored = await TrackingSecretModel.findById(SECRET_ID).lean();
    if (!stored?.value) throw new Error('tracked-link secret missing');
    this.value = Buffer.from(stored.value, 'utf8');
  }

  get(): Buffer {
    if (!this.value) throw new Error('tracked-link secret not loaded (prepareDatabase loads it)');
    return this.value;
  }
}
