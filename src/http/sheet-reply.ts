// A list exported as .xlsx: the rows a list's filters select, every page of them (no cap),
// streamed as they are read, under a Chinese file name (RFC 5987 filename*, with an ASCII
// fallback for old clients).
import type { FastifyReply } from 'fastify';
import { CONTENT_TYPES, type Cell, openSheet } from '../tracking/sheet.js';

/** 2026-12-06 09:30 in the service's time zone: how the console shows a time. */
export function sheetTime(date: Date | string | null | undefined, timeZone: string): string {
  if (!date) return '';
  const parts = new Intl.DateTimeFormat('zh-CN', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(date));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}`;
}

/** Reads a keyset-paged list to its end: `page(cursor)` returns rows and the next cursor (null at the end). */
export async function* allPages<T>(page: (cursor: string | undefined) => Promise<{ rows: T[]; next: string | null }>) {
  let cursor: string | undefined;
  for (;;) {
    const { rows, next } = await page(cursor);
    yield* rows;
    if (!next) return;
    cursor = next;
  }
}

export function sendSheet(
  reply: FastifyReply,
  file: { name: string; asciiName: string; sheet: string; headers: string[] },
  rows: AsyncIterable<Cell[]>,
) {
  const writer = openSheet('xlsx', file.sheet, file.headers);
  const done = (async () => {
    for await (const row of rows) await writer.row(row);
    await writer.end();
  })();
  done.catch((error: unknown) => {
    reply.log.error({ err: error }, 'list export failed while streaming');
    writer.stream.destroy(error as Error);
  });
  return reply
    .header('content-type', CONTENT_TYPES.xlsx)
    .header(
      'content-disposition',
      `attachment; filename="${file.asciiName}"; filename*=UTF-8''${encodeURIComponent(file.name)}`,
    )
    .header('cache-control', 'no-store')
    .send(writer.stream);
}
