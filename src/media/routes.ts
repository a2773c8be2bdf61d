// Picture upload (multipart, field "file") and the public picture address DingTalk and
// Feishu fetch images from. The address is the content hash: unguessable, immutable.
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuditService } from '../audit/service.js';
import { AUTHORS } from '../auth/roles.js';
import { PUBLIC, allow, principal } from '../http/access.js';
import { InvalidInput, NotFound } from '../lib/errors.js';
import { MEDIA_LIMITS, normaliseImage } from './normalise.js';
import { MediaBody, MediaParams } from './schemas.js';
import type { MediaStore } from './store.js';

export interface MediaRoutesOptions {
  media: MediaStore;
  audit: AuditService;
  publicBaseUrl: string;
  /**
   * Whether a picture is withheld from the public address: one of a withdrawn (retracted or
   * archived) notice that no live notice uses (issue 15, finding 5).
   */
  withheld?: (sha256: string) => Promise<boolean>;
  /** Requests per address and minute on /media (default 600). */
  mediaPerMinute?: number;
}

export function mediaUrl(publicBaseUrl: string, sha256: string): string {
  return `${publicBaseUrl}/media/${sha256}`;
}

export const mediaRoutes: FastifyPluginAsyncTypebox<MediaRoutesOptions> = async (
  app,
  { media, audit, publicBaseUrl, withheld = async () => false, mediaPerMinute = 600 },
) => {
  await app.register(multipart, { limits: { fileSize: MEDIA_LIMITS.maxUploadBytes, files: 1, fields: 0, parts: 1 } });

  app.post(
    '/api/media',
    {
      config: allow(AUTHORS),
      schema: {
        tags: ['media'],
        summary: '上传图片（multipart 字段 file；JPEG/PNG/WebP，按内容识别）',
        consumes: ['multipart/form-data'],
        response: { 201: MediaBody },
      },
    },
    async (request, reply) => {
      const by = principal(request);
      let data: Buffer;
      try {
        const file = await request.file();
        if (!file) throw new InvalidInput('请在 multipart 字段 file 中上传图片', 'file');
        data = await file.toBuffer();
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'FST_REQ_FILE_TOO_LARGE') {
          throw new InvalidInput(`图片文件过大，最大 ${MEDIA_LIMITS.maxUploadBytes / 1024 / 1024} MB`, 'file');
        }
        if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') {
          throw new InvalidInput('请用 multipart/form-data 上传图片（字段 file）', 'file');
        }
        throw error;
      }
      if (data.length === 0) throw new InvalidInput('上传的文件是空的', 'file');
      const image = await normaliseImage(data);
      const stored = await media.put(image, by.id);
      await audit.record({
        actor: by,
        action: 'media.upload',
        target: { kind: 'media', id: stored.sha256 },
        ip: request.ip,
        details: { mime: stored.mime, width: stored.width, height: stored.height, bytes: stored.bytes },
      });
      return reply.status(201).send({ ...stored, url: mediaUrl(publicBaseUrl, stored.sha256) });
    },
  );

  app.get(
    '/media/:sha256',
    {
      // Generous: a village's phones and the platforms fetch a campaign's picture per group.
      config: { ...PUBLIC, rateLimit: { max: mediaPerMinute, timeWindow: 60_000 } },
      schema: { tags: ['media'], summary: '图片（公开地址，供钉钉/飞书拉取）', params: MediaParams },
    },
    async (request, reply) => {
      const { sha256 } = request.params;
      // An unknown hash is a 404 by the store's key before anything else (issue 26.5).
      if (!(await media.info(sha256))) throw new NotFound('图片');
      // Checked on every request, a revalidation too: a withdrawn notice's picture stops at once
      // (caches keep it at most a minute), though its bytes never change.
      if (await withheld(sha256)) throw new NotFound('图片');
      if (request.headers['if-none-match'] === `"${sha256}"`) return reply.status(304).send();
      const file = await media.read(sha256);
      if (!file) throw new NotFound('图片');
      return reply
        .header('content-type', file.info.mime)
        .header('cache-control', 'public, max-age=60')
        .header('etag', `"${sha256}"`)
        .header('x-content-type-options', 'nosniff')
        .send(file.data);
    },
  );
};
