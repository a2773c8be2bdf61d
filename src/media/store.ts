// Content-addressed picture store in GridFS, so every API and worker instance reads the
// same bytes. A file's GridFS _id is the SHA-256 of its bytes: storing the same picture
// twice is a no-op, and the unique _id settles two instances storing it at once.
import mongoose from 'mongoose';
import { isDuplicateKey } from '../lib/errors.js';
import type { MediaMime, NormalisedImage } from './normalise.js';

export const MEDIA_BUCKET = 'media';

export interface StoredMedia {
  sha256: string;
  mime: MediaMime;
  width: number;
  height: number;
  bytes: number;
  uploadedAt: Date;
}

interface FileDoc {
  _id: string;
  length: number;
  uploadDate: Date;
  metadata?: { mime: MediaMime; width: number; height: number; uploadedBy: string | null };
}

export class MediaStore {
  /** `bucketName`: another bucket keeps pictures apart (residents' tip photos are never public). */
  constructor(
    private readonly db: () => mongoose.mongo.Db,
    private readonly bucketName: string = MEDIA_BUCKET,
  ) {}

  private bucket(): mongoose.mongo.GridFSBucket {
    return new mongoose.mongo.GridFSBucket(this.db(), { bucketName: this.bucketName });
  }

  private files() {
    return this.db().collection<FileDoc>(`${this.bucketName}.files`);
  }

  async info(sha256: string): Promise<StoredMedia | null> {
    const file = await this.files().findOne({ _id: sha256 });
    if (!file?.metadata) return null;
    return {
      sha256: file._id,
      mime: file.metadata.mime,
      width: file.metadata.width,
      height: file.metadata.height,
      bytes: file.length,
      uploadedAt: file.uploadDate,
    };
  }

  /** Stores a normalised image under its hash; returns what is stored (new or already there). */
  async put(image: NormalisedImage, uploadedBy: string | null): Promise<StoredMedia> {
    const existing = await this.info(image.sha256);
    if (existing) return existing;
    try {
      await new Promise<void>((resolve, reject) => {
        const upload = this.bucket().openUploadStreamWithId(image.sha256 as never, image.sha256, {
          metadata: { mime: image.mime, width: image.width, height: image.height, uploadedBy },
        });
        upload.once('finish', () => resolve());
        upload.once('error', reject);
        upload.end(image.data);
      });
    } catch (error) {
      // Another instance stored the same bytes first: that file is ours too.
      if (!isDuplicateKey(error)) throw error;
    }
    const stored = await this.info(image.sha256);
    if (!stored) throw new Error(`media ${image.sha256} missing right after storing it`);
    return stored;
  }

  /** Removes a picture and its chunks; false when it was not there. */
  async delete(sha256: string): Promise<boolean> {
    if (!(await this.info(sha256))) return false;
    await this.bucket()
      .delete(sha256 as never)
      .catch((error: Error) => {
        if (!/not found/i.test(error.message)) throw error;
      });
    return true;
  }

  /** The whole file (pictures are capped at a few MB by normalisation). */
  async read(sha256: string): Promise<{ data: Buffer; info: StoredMedia } | null> {
    const info = await this.info(sha256);
    if (!info) return null;
    const chunks: Buffer[] = [];
    for await (const chunk of this.bucket().openDownloadStream(sha256 as never)) chunks.push(chunk as Buffer);
    return { data: Buffer.concat(chunks), info };
  }
}
