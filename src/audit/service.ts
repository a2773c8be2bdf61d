// Append-only audit log of who did what, when and from where.
import type { Clock } from '../lib/clock.js';
import { InvalidInput } from '../lib/errors.js';
import type { Scope } from '../regions/scope.js';
import { AuditModel } from './model.js';

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
    await AuditModel.create({
      at: this.clock.now(),
      actorId: event.actor?.id ?? null,
      actorName: event.actor?.username ?? null,
      action: event.action,
      targetKind: event.target?.kind ?? null,
      targetId: event.target?.id ?? null,
      ip: event.ip ?? null,
      regionPath: event.regionPath ?? event.actor?.regionPath ?? this.rootRegionPath,
      details: redact(event.details),
    });
  }

  async list(scope: Scope, query: AuditQuery): Promise<AuditEntry[]> {
    if (query.from && query.to && query.from > query.to) throw new InvalidInput('开始时间晚于结束时间', 'from');
    const filter: Record<string, unknown> = { ...scope.filter() };
    if (query.action) filter.action = query.action;
    if (query.actorId) filter.actorId = query.actorId;
    if (query.from || query.to) {
      filter.at = { ...(query.from ? { $gte: query.from } : {}), ...(query.to ? { $lte: query.to } : {}) };
    }
    if (query.before) filter._id = { $lt: query.before };
    const docs = await AuditModel.find(filter).sort({ _id: -1 }).limit(query.limit).lean();
    return docs.map((doc) => ({
      id: String(doc._id),
      at: doc.at,
      actorId: doc.actorId ?? null,
      actorName: doc.actorName ?? null,
      action: doc.action,
      targetKind: doc.targetKind ?? null,
      targetId: doc.targetId ?? null,
      ip: doc.ip ?? null,
      details: (doc.details as Record<string, unknown> | null) ?? null,
    }));
  }
}
