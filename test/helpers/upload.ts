// multipart/form-data uploads through app.inject, the way a browser sends a file.
import { randomBytes } from 'node:crypto';
import type { TestApp } from './app.js';

export function upload(
  t: TestApp,
  url: string,
  token: string,
  filename: string,
  data: Buffer,
  mime = 'application/octet-stream',
  fields: Record<string, string> = {},
) {
  const boundary = `----jingxun${randomBytes(8).toString('hex')}`;
  const payload = Buffer.concat([
    ...Object.entries(fields).map(([name, value]) =>
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    ),
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${mime}\r\n\r\n`,
    ),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return t.app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload,
  });
}

/** A report's row errors without their grouping cause, to compare with the messages a person reads. */
export function withoutCause<T extends { cause?: string }>(errors: T[]): Omit<T, 'cause'>[] {
  return errors.map(({ cause: _cause, ...error }) => error);
}
