import { Type } from '@sinclair/typebox';
import { DateTime } from '../lib/schemas.js';

export const Sha256 = Type.String({
  pattern: '^[0-9a-f]{64}$',
  description: '图片内容的 SHA-256（64 位小写十六进制）',
});

export const MediaParams = Type.Object({ sha256: Sha256 }, { additionalProperties: false });

export const MediaBody = Type.Object({
  sha256: Type.String(),
  mime: Type.Union([Type.Literal('image/jpeg'), Type.Literal('image/png')]),
  width: Type.Integer(),
  height: Type.Integer(),
  bytes: Type.Integer(),
  uploadedAt: DateTime,
  /** Public address chat platforms fetch the picture from. */
  url: Type.String(),
});
