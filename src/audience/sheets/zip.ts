// The zip container of an .xlsx, read with its costs known before anything is inflated.
// An upload of 20 MB may declare gigabytes inside (a zip bomb): the central directory is
// read first and the file refused when its entries, their total uncompressed size or any
// entry's compression ratio pass the caps. Entries are then inflated as streams that stop at
// the size the directory declared, so a file whose headers lie cannot inflate further either.
import { Readable } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import { InvalidInput } from '../../lib/errors.js';

/** A ledger xlsx has a dozen parts; Excel's own files rarely have 50. */
export const MAX_ZIP_ENTRIES = 500;
/** A province's 50,000 groups is about 40 MB of XML. */
export const MAX_UNCOMPRESSED_BYTES = 120 * 1024 * 1024;
/** Sheet XML compresses 10–30×; a run of one repeated byte compresses about 1000×. */
export const MAX_COMPRESSION_RATIO = 200;
/** Entries this small may have any ratio (an empty sheet's XML compresses well). */
const RATIO_FREE_BYTES = 1024 * 1024;

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

const refuse = (message: string) => new InvalidInput(message, 'file');
const broken = () => refuse('无法读取该 Excel 文件（文件可能已损坏或被加密），请在 Excel 中另存为 .xlsx 后重试');
const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)}MB`;

/** The central directory's entries, after checking every cap; throws a Chinese 4xx message. */
export function zipEntries(data: Buffer): Map<string, ZipEntry> {
  // The end record sits in the last 22 + 65,535 bytes (its comment is at most 64 KB).
  let end = -1;
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 0xffff); i -= 1) {
    if (data.readUInt32LE(i) === EOCD) {
      end = i;
      break;
    }
  }
  if (end < 0) throw broken();
  const count = data.readUInt16LE(end + 10);
  const directorySize = data.readUInt32LE(end + 12);
  const directoryOffset = data.readUInt32LE(end + 16);
  if (count === 0xffff || directoryOffset === 0xffffffff) throw refuse('不支持 ZIP64 格式的 Excel 文件，请在 Excel 中另存为 .xlsx 后重试');
  if (count > MAX_ZIP_ENTRIES) throw refuse(`Excel 文件内含 ${count} 个部件，超过上限 ${MAX_ZIP_ENTRIES}，不像是一张台账`);
  if (directoryOffset + directorySize > data.length) throw broken();

  const entries = new Map<string, ZipEntry>();
  let total = 0;
  let at = directoryOffset;
  for (let n = 0; n < count; n += 1) {
    if (at + 46 > data.length || data.readUInt32LE(at) !== CENTRAL) throw broken();
    const flags = data.readUInt16LE(at + 8);
    const method = data.readUInt16LE(at + 10);
    const compressedSize = data.readUInt32LE(at + 20);
    const size = data.readUInt32LE(at + 24);
    const nameLength = data.readUInt16LE(at + 28);
    const extraLength = data.readUInt16LE(at + 30);
    const commentLength = data.readUInt16LE(at + 32);
    const localOffset = data.readUInt32LE(at + 42);
    const name = data.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    if (flags & 1) throw refuse('Excel 文件已加密，请在 Excel 中取消密码后另存为 .xlsx 再导入');
    if (size === 0xffffffff || compressedSize === 0xffffffff) throw refuse('不支持 ZIP64 格式的 Excel 文件');
    total += size;
    if (total > MAX_UNCOMPRESSED_BYTES) {
      throw refuse(`Excel 文件解压后超过 ${mb(MAX_UNCOMPRESSED_BYTES)}（压缩包异常或表格过大），请按乡镇拆分后分批导入`);
    }
    if (size > RATIO_FREE_BYTES && size > compressedSize * MAX_COMPRESSION_RATIO) {
      throw refuse(
        `Excel 文件中“${name.slice(0, 60)}”的压缩比异常（${mb(compressedSize)} 解压为 ${mb(size)}），文件不是正常的表格，已拒绝`,
      );
    }
    if (method !== 0 && method !== 8) throw broken();
    entries.set(name, { name, method, compressedSize, size, localOffset });
  }
  return entries;
}

/**
 * The entry's bytes as a stream of chunks, never more than its declared size: the inflater
 * is stopped there (a lying header gets the file refused, not the memory filled).
 */
export async function* entryChunks(data: Buffer, entry: ZipEntry): AsyncGenerator<Buffer> {
  const at = entry.localOffset;
  if (at + 30 > data.length || data.readUInt32LE(at) !== LOCAL) throw broken();
  const start = at + 30 + data.readUInt16LE(at + 26) + data.readUInt16LE(at + 28);
  const raw = data.subarray(start, start + entry.compressedSize);
  if (entry.method === 0) {
    yield raw.subarray(0, entry.size);
    return;
  }
  const inflater = createInflateRaw({ chunkSize: 64 * 1024 });
  Readable.from([raw]).pipe(inflater);
  let seen = 0;
  try {
    for await (const chunk of inflater as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > entry.size) throw refuse(`Excel 文件中“${entry.name.slice(0, 60)}”解压后比声明的大，文件异常，已拒绝`);
      yield chunk;
    }
  } catch (error) {
    if (error instanceof InvalidInput) throw error;
    throw broken();
  } finally {
    inflater.destroy();
  }
}
