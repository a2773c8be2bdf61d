// The streaming .xlsx reader: the zip's central directory is checked first (zip.ts), then the
// workbook, its shared strings and the first visible sheet are inflated chunk by chunk and
// scanned as they arrive, stopping with a clear message at the row and cell caps. No part is
// held whole except the shared strings (capped by count), and the event loop gets a turn
// between chunks, so a sheet of a million cells is refused in a second or two while the
// service keeps answering.
import { StringDecoder } from 'node:string_decoder';
import { InvalidInput } from '../../lib/errors.js';
import { type ZipEntry, entryChunks, zipEntries } from './zip.js';

/** A province's ledger is 50,000 groups; one sheet beyond that is not a ledger. */
export const MAX_SHEET_ROWS = 60_000;
/** 60,000 rows of a dozen columns, with room to spare; a million cells is refused. */
export const MAX_SHEET_CELLS = 800_000;
const MAX_MERGES = 10_000;

export interface XlsxRow {
  number: number;
  /** Column (1-based) → text. */
  cells: Map<number, string>;
  sums: boolean;
}

export interface XlsxLimits {
  maxColumns: number;
  checkCell(text: string, row: number, column: number): void;
}

type Attributes = Record<string, string>;
interface XmlHandler {
  open(name: string, attributes: Attributes, selfClosing: boolean): void;
  close(name: string): void;
  text(text: string): void;
}

const ENTITY = /&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (_, e: string) => {
    if (e[0] !== '#') return NAMED[e.toLowerCase()] ?? '';
    const code = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
  });
}
/** OOXML's own escape for control characters in strings: _x000D_. */
const ooxmlUnescape = (text: string) =>
  text.includes('_x') ? text.replace(/_x([0-9A-Fa-f]{4})_/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))) : text;

const localName = (name: string) => {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
};

/** name="value" pairs of a tag body (after its name); hand-rolled: this runs once per cell. */
function parseAttributes(body: string, from: number): Attributes {
  const attributes: Attributes = {};
  let at = from;
  for (;;) {
    const eq = body.indexOf('=', at);
    if (eq < 0) return attributes;
    const quote = body[eq + 1];
    if (quote !== '"' && quote !== "'") return attributes;
    const end = body.indexOf(quote, eq + 2);
    if (end < 0) return attributes;
    const name = localName(body.slice(at, eq).trim());
    attributes[name] = decodeEntities(body.slice(eq + 2, end));
    at = end + 1;
  }
}

const isSpace = (code: number) => code === 32 || code === 9 || code === 10 || code === 13;

/** A streaming scanner for the machine-written XML of xlsx parts (no DTDs, no namespaces needed). */
class XmlScanner {
  private rest = '';
  private readonly decoder = new StringDecoder('utf8');
  /** Tags whose attributes the handler reads; others are passed with none (most tags are <v>). */
  constructor(
    private readonly handler: XmlHandler,
    private readonly withAttributes: ReadonlySet<string>,
  ) {}

  write(chunk: Buffer): void {
    let text = this.rest + this.decoder.write(chunk);
    let at = 0;
    const handler = this.handler;
    for (;;) {
      const lt = text.indexOf('<', at);
      if (lt < 0) {
        if (at < text.length) handler.text(decodeEntities(text.slice(at)));
        at = text.length;
        break;
      }
      if (lt > at) handler.text(decodeEntities(text.slice(at, lt)));
      const next = text.charCodeAt(lt + 1);
      if (next === 33 /* ! */ && text.startsWith('<![CDATA[', lt)) {
        const end = text.indexOf(']]>', lt);
        if (end < 0) {
          at = lt;
          break;
        }
        handler.text(text.slice(lt + 9, end));
        at = end + 3;
        continue;
      }
      if (next === 33 && text.startsWith('<!--', lt)) {
        const end = text.indexOf('-->', lt);
        if (end < 0) {
          at = lt;
          break;
        }
        at = end + 3;
        continue;
      }
      const gt = text.indexOf('>', lt);
      if (gt < 0) {
        at = lt;
        break;
      }
      at = gt + 1;
      if (next === 63 /* ? */ || next === 33) continue;
      if (next === 47 /* / */) {
        handler.close(localName(text.slice(lt + 2, gt).trim()));
        continue;
      }
      const selfClosing = text.charCodeAt(gt - 1) === 47;
      const bodyEnd = selfClosing ? gt - 1 : gt;
      let nameEnd = lt + 1;
      while (nameEnd < bodyEnd && !isSpace(text.charCodeAt(nameEnd))) nameEnd += 1;
      const name = localName(text.slice(lt + 1, nameEnd));
      const attributes =
        nameEnd < bodyEnd && this.withAttributes.has(name) ? parseAttributes(text.slice(nameEnd, bodyEnd), 0) : NONE;
      handler.open(name, attributes, selfClosing);
      if (selfClosing) handler.close(name);
    }
    text = text.slice(at);
    // An unclosed tag or text longer than any cell may be: the part is not an xlsx sheet.
    if (text.length > 1024 * 1024) throw new InvalidInput('Excel 文件中有无法识别的内容，请在 Excel 中另存为 .xlsx 后重试', 'file');
    this.rest = text;
  }
}

const NONE: Attributes = Object.freeze({}) as Attributes;

async function scan(
  data: Buffer,
  entry: ZipEntry,
  handler: XmlHandler,
  withAttributes: string[] = [],
  stop?: () => boolean,
): Promise<void> {
  const scanner = new XmlScanner(handler, new Set(withAttributes));
  for await (const chunk of entryChunks(data, entry)) {
    scanner.write(chunk);
    if (stop?.()) return;
  }
}

/** "AB12" → { column: 28, row: 12 }. */
function decodeRef(ref: string): { column: number; row: number } | null {
  const match = /^\$?([A-Z]{1,3})\$?(\d{1,7})$/i.exec(ref);
  if (!match) return null;
  let column = 0;
  for (const letter of match[1]!.toUpperCase()) column = column * 26 + (letter.charCodeAt(0) - 64);
  return { column, row: Number(match[2]) };
}

async function sharedStrings(data: Buffer, entry: ZipEntry | undefined): Promise<string[]> {
  const strings: string[] = [];
  if (!entry) return strings;
  let current: string[] | null = null;
  let inText = false;
  let phonetic = 0;
  await scan(data, entry, {
    open(name) {
      if (name === 'si') current = [];
      else if (name === 'rPh') phonetic += 1;
      else if (name === 't') inText = true;
    },
    close(name) {
      if (name === 'si' && current) {
        strings.push(ooxmlUnescape(current.join('')));
        current = null;
        if (strings.length > MAX_SHEET_CELLS) {
          throw new InvalidInput(`Excel 文件中的文字超过 ${MAX_SHEET_CELLS} 项，请按乡镇拆分后分批导入`, 'file');
        }
      } else if (name === 'rPh') phonetic -= 1;
      else if (name === 't') inText = false;
    },
    text(text) {
      if (inText && current && phonetic === 0) current.push(text);
    },
  });
  return strings;
}

/** The visible sheets' parts, in the workbook's order. */
async function visibleSheets(data: Buffer, entries: Map<string, ZipEntry>): Promise<ZipEntry[]> {
  const workbook = entries.get('xl/workbook.xml');
  const rels = entries.get('xl/_rels/workbook.xml.rels');
  if (!workbook || !rels) throw new InvalidInput('这不是 Excel 表格文件（缺少工作簿），请上传 .xlsx 或 .csv 文件', 'file');
  const targets = new Map<string, string>();
  await scan(data, rels, {
    open(name, a) {
      if (name === 'Relationship' && a.Id && a.Target) targets.set(a.Id, a.Target);
    },
    close() {},
    text() {},
  }, ['Relationship']);
  const sheets: ZipEntry[] = [];
  await scan(data, workbook, {
    open(name, a) {
      if (name !== 'sheet' || a.state === 'hidden' || a.state === 'veryHidden') return;
      const target = targets.get(a.id ?? '');
      if (!target) return;
      const path = target.startsWith('/') ? target.slice(1) : `xl/${target.replace(/^\.\//, '')}`;
      const entry = entries.get(path);
      if (entry) sheets.push(entry);
    },
    close() {},
    text() {},
  }, ['sheet']);
  return sheets;
}

async function readSheetPart(
  data: Buffer,
  entry: ZipEntry,
  strings: string[],
  limits: XlsxLimits,
): Promise<XlsxRow[]> {
  const rows: XlsxRow[] = [];
  const merges: string[] = [];
  let cellCount = 0;
  let row: XlsxRow | null = null;
  let lastRow = 0;
  let cell: { column: number; type: string; value: string; formula: string; inline: string } | null = null;
  let lastColumn = 0;
  let into: 'v' | 'f' | 't' | null = null;
  let phonetic = 0;

  const finishCell = () => {
    if (!row || !cell) return;
    let text = '';
    const value = cell.value;
    switch (cell.type) {
      case 's':
        text = strings[Number.parseInt(value, 10)] ?? '';
        break;
      case 'inlineStr':
        text = ooxmlUnescape(cell.inline);
        break;
      case 'str':
        text = ooxmlUnescape(value);
        break;
      case 'b':
        text = value === '' ? '' : Number(value) !== 0 ? 'TRUE' : 'FALSE';
        break;
      case 'e':
        text = '';
        break;
      default: {
        const number = Number(value);
        text = value !== '' && Number.isFinite(number) ? String(number) : value;
      }
    }
    if (cell.formula && /^\s*SUM\s*\(/i.test(cell.formula)) row.sums = true;
    if (text) {
      limits.checkCell(text, row.number, cell.column);
      row.cells.set(cell.column, text);
      cellCount += 1;
      if (cellCount > MAX_SHEET_CELLS) {
        throw new InvalidInput(
          `表格超过 ${MAX_SHEET_CELLS} 个有内容的单元格（到第 ${row.number} 行），请按乡镇拆分后分批导入`,
          'file',
        );
      }
    }
    cell = null;
  };

  await scan(data, entry, {
    open(name, a) {
      switch (name) {
        case 'row': {
          const number = Number.parseInt(a.r ?? '', 10);
          lastRow = Number.isFinite(number) && number > 0 ? number : lastRow + 1;
          row = { number: lastRow, cells: new Map(), sums: false };
          lastColumn = 0;
          break;
        }
        case 'c': {
          const ref = a.r ? decodeRef(a.r) : null;
          lastColumn = ref ? ref.column : lastColumn + 1;
          cell = { column: lastColumn, type: a.t ?? 'n', value: '', formula: '', inline: '' };
          break;
        }
        case 'v':
        case 'f':
          into = name;
          break;
        case 't':
          into = 't';
          break;
        case 'rPh':
          phonetic += 1;
          break;
        case 'mergeCell':
          if (a.ref && merges.length < MAX_MERGES) merges.push(a.ref);
          break;
      }
    },
    close(name) {
      switch (name) {
        case 'c':
          finishCell();
          break;
        case 'row':
          if (row && (row.cells.size > 0 || row.sums)) {
            rows.push(row);
            if (rows.length > MAX_SHEET_ROWS) {
              throw new InvalidInput(
                `表格超过 ${MAX_SHEET_ROWS} 行（第 ${row.number} 行起），请按乡镇拆分后分批导入`,
                'file',
              );
            }
          }
          row = null;
          break;
        case 'v':
        case 'f':
        case 't':
          into = null;
          break;
        case 'rPh':
          phonetic -= 1;
          break;
      }
    },
    text(text) {
      if (!cell || !into || phonetic > 0) return;
      if (into === 'v') cell.value += text;
      else if (into === 'f') cell.formula += text;
      else cell.inline += text;
    },
  }, ['row', 'c', 'mergeCell', 'dimension']);

  // A township merged down a column applies to each row it covers (as Excel shows it).
  const byNumber = new Map(rows.map((r) => [r.number, r]));
  for (const merge of merges) {
    const [from, to] = merge.split(':').map((ref) => decodeRef(ref ?? ''));
    if (!from || !to) continue;
    const master = byNumber.get(from.row)?.cells.get(from.column);
    if (!master) continue;
    const lastColumnOfMerge = Math.min(to.column, limits.maxColumns);
    for (const target of rows) {
      if (target.number < from.row || target.number > to.row) continue;
      for (let column = from.column; column <= lastColumnOfMerge; column += 1)
        if (!target.cells.has(column)) target.cells.set(column, master);
    }
  }
  return rows;
}

export async function readXlsxRows(data: Buffer, limits: XlsxLimits): Promise<XlsxRow[]> {
  const entries = zipEntries(data);
  const sheets = await visibleSheets(data, entries);
  if (sheets.length === 0) throw new InvalidInput('Excel 文件中没有数据', 'file');
  const strings = await sharedStrings(data, entries.get('xl/sharedStrings.xml'));
  for (const sheet of sheets.slice(0, 20)) {
    const rows = await readSheetPart(data, sheet, strings, limits);
    if (rows.length > 0) return rows;
  }
  throw new InvalidInput('Excel 文件中没有数据', 'file');
}

