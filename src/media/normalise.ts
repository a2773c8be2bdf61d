// Uploaded pictures are decoded and re-encoded by sharp, never trusted by name or type
// header: the format comes from the bytes, EXIF orientation is applied, metadata (GPS,
// camera, owner) is stripped, and size is capped before anything is stored.
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { InvalidInput } from '../lib/errors.js';

export const MEDIA_LIMITS = {
  /** Largest upload accepted at the HTTP layer. */
  maxUploadBytes: 20 * 1024 * 1024,
  /** Decompression-bomb guard: libvips refuses to decode more pixels than this. */
  maxInputPixels: 40_000_000,
  /** Longest side after normalising; plenty for a phone screen and a 750 px card. */
  maxSide: 2048,
} as const;

export type MediaMime = 'image/jpeg' | 'image/png';

export interface NormalisedImage {
  data: Buffer;
  mime: MediaMime;
  width: number;
  height: number;
  sha256: string;
}

const ACCEPTED = new Set(['jpeg', 'png', 'webp']);

async function readHeader(input: Buffer) {
  try {
    return await sharp(input, { limitInputPixels: false }).metadata();
  } catch {
    throw new InvalidInput('无法识别的图片文件：只支持 JPEG、PNG、WebP 格式（按文件内容判断，与扩展名无关）', 'file');
  }
}

export async function normaliseImage(input: Buffer): Promise<NormalisedImage> {
  const header = await readHeader(input);
  const format = header.format ?? 'unknown';
  if (format === 'svg') throw new InvalidInput('不支持 SVG 图片（可能含脚本），请上传 JPEG、PNG 或 WebP', 'file');
  if (!ACCEPTED.has(format)) {
    throw new InvalidInput(`不支持的图片格式 ${format}：只支持 JPEG、PNG、WebP`, 'file');
  }
  const width = header.width ?? 0;
  const height = header.height ?? 0;
  if (width * height > MEDIA_LIMITS.maxInputPixels) {
    throw new InvalidInput(
      `图片像素过多（${width}×${height}），最多 ${MEDIA_LIMITS.maxInputPixels / 1_000_000} 百万像素，请缩小后再上传`,
      'file',
    );
  }
  // PNG keeps transparency and sharp line art; everything else becomes JPEG. Both are
  // what WeCom's image message accepts.
  const toPng = format === 'png' || (format === 'webp' && header.hasAlpha === true);
  try {
    const pipeline = sharp(input, { limitInputPixels: MEDIA_LIMITS.maxInputPixels, failOn: 'truncated' })
      .rotate()
      .resize({ width: MEDIA_LIMITS.maxSide, height: MEDIA_LIMITS.maxSide, fit: 'inside', withoutEnlargement: true });
    const { data, info } = await (toPng
      ? pipeline.png({ compressionLevel: 9 })
      : pipeline.flatten({ background: '#ffffff' }).jpeg({ quality: 85, mozjpeg: true })
    ).toBuffer({ resolveWithObject: true });
    return {
      data,
      mime: toPng ? 'image/png' : 'image/jpeg',
      width: info.width,
      height: info.height,
      sha256: createHash('sha256').update(data).digest('hex'),
    };
  } catch (error) {
    if (error instanceof InvalidInput) throw error;
    throw new InvalidInput('图片文件已损坏或不完整，无法解码，请重新导出后上传', 'file');
  }
}
