// One way to page a list: keyset cursors on _id (newest or oldest first), never an offset,
// so page 60 costs what page 1 costs and no row is skipped or repeated while rows are added.
// `from`/`to` bound a date field of the list; `q` searches a text field. Each list route
// spreads ListWindowQuery into its querystring and passes the parsed values here.
import { Type } from '@sinclair/typebox';
import mongoose from 'mongoose';
import { ObjectIdString } from './schemas.js';

export const ListWindowQuery = {
  before: Type.Optional({ ...ObjectIdString, description: '从此 ID 之后接着列（新的在前时用）' }),
  after: Type.Optional({ ...ObjectIdString, description: '从此 ID 之后接着列（旧的在前时用）' }),
  sort: Type.Optional(Type.Union([Type.Literal('newest'), Type.Literal('oldest')], { description: '排序，默认新的在前' })),
  from: Type.Optional(Type.String({ format: 'date-time', description: '起始时间（含）' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: '截止时间（不含）' })),
  q: Type.Optional(Type.String({ maxLength: 64, description: '包含的文字' })),
};

export interface ListWindow {
  before?: string;
  after?: string;
  sort?: 'newest' | 'oldest';
  from?: string;
  to?: string;
  q?: string;
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The conditions and sort order of one page. `dateField` is what from/to bound, `textField`
 * what q searches (case-insensitive, literally). The cursor goes with the sort: `before` when
 * newest first, `after` when oldest first; the other one is ignored.
 */
export function keysetPage(
  window: ListWindow,
  fields: { dateField: string; textField?: string },
): { match: Record<string, unknown>; sort: Record<string, 1 | -1> } {
  const match: Record<string, unknown> = {};
  const oldest = window.sort === 'oldest';
  const cursor = oldest ? window.after : window.before;
  if (cursor) match._id = { [oldest ? '$gt' : '$lt']: new mongoose.Types.ObjectId(cursor) };
  if (window.from || window.to) {
    const range: Record<string, Date> = {};
    if (window.from) range.$gte = new Date(window.from);
    if (window.to) range.$lt = new Date(window.to);
    match[fields.dateField] = range;
  }
  const text = window.q?.trim();
  if (text && fields.textField) match[fields.textField] = { $regex: escapeRegex(text), $options: 'i' };
  return { match, sort: { _id: oldest ? 1 : -1 } };
}

/**
 * Keyset paging on another field than the date (a list sorted by a column): rows after the
 * cursor row in the order (field, _id), both ascending or both descending. The cursor stays the
 * last row's id; the caller reads that row's field value (`cursorValue`, one read by _id), so a
 * page still costs what the first does and ties on the field never skip or repeat a row.
 */
export function keysetByField(
  field: string,
  direction: 1 | -1,
  cursor: { id: string; value: unknown } | null,
): { match: Record<string, unknown>; sort: Record<string, 1 | -1> } {
  const sort = { [field]: direction, _id: direction } as Record<string, 1 | -1>;
  if (!cursor) return { match: {}, sort };
  const op = direction === 1 ? '$gt' : '$lt';
  const id = new mongoose.Types.ObjectId(cursor.id);
  return {
    match: { $or: [{ [field]: { [op]: cursor.value } }, { [field]: cursor.value, _id: { [op]: id } }] },
    sort,
  };
}
