// Append-only audit log of who did what, when and from where. Every entry is also copied onto
// per-region lists read by `_id` (pages.ts), from which the audit screen pages: the collection
// itself is only written (read once by the lists' backfill, and by `_id` to check a row whose
// writer was killed before it marked it: pages.ts's write order).
import type { Clock } from '../lib/clock.js';
import { InvalidInput } from '../lib/errors.js';
import type { Scope } from '../regions/scope.js';
import mongoose from 'mongoose';
import { AuditModel } from './model.js';
import { auditRows, confirmRows, type Row, recordRow, rowOf, scopeKey } from './pages.js';

/** Who acted: a signed-in user, or nobody (e.g. a failed login). */
export interface Actor {
  id: string;
  username: string;
  regionPath: string[];
}

export interface AuditEvent {
  actor: Actor | null;
  action: string;
  target?: { kind: string; id: string };
  ip?: string | null;
  /** Scope to file an anonymous event under (defaults to the actor's). */
  regionPath?: string[];
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  id: string;
  at: Date;
  actorId: string | null;
  actorName: string | null;
  action: string;
  targetKind: string | null;
  targetId: string | null;
  ip: string | null;
  details: Record<string, unknown> | null;
}

export interface AuditQuery {
  action?: string;
  actorId?: string;
  from?: Date;
  to?: Date;
  /** Cursor: the id of the last entry of the previous page. */
  before?: string;
  limit: number;
}

const SECRET_KEY = /pass|secret|token|key|credential/i;

// Details are for people; a secret put there by mistake must not survive.
function redact(details: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!details) return null;
  return Object.fromEntries(Object.entries(details).map(([k, v]) => [k, SECRET_KEY.test(k) ? '[redacted]' : v]));
}

export class AuditService {
  constructor(
    private readonly clock: Clock,
    private readonly rootRegionPath: string[],
  ) {}

  async record(event: AuditEvent): Promise<void> {
    const at = this.clock.now();
    const doc = {
      _id: new mongoose.Types.ObjectId(),
      at,
      actorId: event.actor?.id ?? null,
      actorName: event.actor?.username ?? null,
      action: event.action,
      targetKind: event.target?.kind ?? null,
      targetId: event.target?.id ?? null,
      ip: event.ip ?? null,
      regionPath: event.regionPath ?? event.actor?.regionPath ?? this.rootRegionPath,
      details: redact(event.details),
    };
    // On its lists first (no entry without its rows), then the entry, then its rows marked
    // `ok` (pages.ts: a row not marked is shown only once its entry is found by `_id`).
    const rows = await recordRow(rowOf(doc), new Date());
    await AuditModel.create(doc);
    await confirmRows(rows);
  }

  async list(scope: Scope, query: AuditQuery): Promise<AuditEntry[]> {
    if (query.from && query.to && query.from > query.to) throw new InvalidInput('开始时间晚于结束时间', 'from');
    const code = scope.regionCode;
    const from = query.from?.getTime();
    const to = query.to?.getTime();
    const keep = (row: Row) =>
      row[8].includes(code) &&
      (!query.action || row[4] === query.action) &&
      (!query.actorId || row[2] === query.actorId) &&
      (from === undefined || row[1] >= from) &&
      (to === undefined || row[1] <= to);
    const rows = await auditRows(scopeKey(code), query.limit, keep, query.before ?? null);
    return rows.map((row) => ({
      id: row[0],
      at: new Date(row[1]),
      actorId: row[2],
      actorName: row[3],
      action: row[4],
      targetKind: row[5],
      targetId: row[6],
      ip: row[7],
      details: row[9],
    }));
  }
}
