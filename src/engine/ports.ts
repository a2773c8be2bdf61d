// What the engine needs from the rooms above it, as narrow interfaces: context.ts wires the
// real audience, render, channel and tracking services in (engine/dispatch.ts).
import type { AudienceSpec } from '../campaigns/ports.js';
import type { Scope } from '../regions/scope.js';
import type { GroupSnapshot } from '../tracking/recipients.js';
import type { Window } from './rate-limit.js';

/** One group as the planner snapshots it into a delivery (the ledger's snapshot). */
export type PlannedGroup = GroupSnapshot;

export type SendResult =
  /** note: why a delivery counts as sent without a post of its own (another group's post reached its chat). */
  | { status: 'sent'; note?: string }
  | { status: 'awaiting' } // manual channel: the officer's task exists; WeCom customer group: queued into its owner's task
  /** waiting: nothing was tried (it waits for another delivery's outcome): not counted against the attempts. */
  | { status: 'retryable'; reason: string; retryAfterMs?: number; waiting?: boolean }
  | { status: 'permanent'; reason: string; flagGroup: boolean }
  | { status: 'uncertain'; reason: string };

export interface SendRequest {
  deliveryId: string;
  campaignId: string;
  noticeId: string;
  /** The version the run fixed (rendered exactly); null: the latest approved (older runs). */
  noticeVersion: number | null;
  cardStyle: string;
  groupId: string;
  groupName: string;
  /** The group's village path, root first (manual tasks are scoped by it). */
  regionPath: string[];
  channel: string;
  credentialsSealed: string;
  /** Another group of the run has the same robot: follow its delivery, never post again. */
  via: { batchId: string; groupId: string; groupName?: string | null } | null;
  personal: { villageName: string; townshipName: string; officerName: string | null; officerPhone: string | null };
}

/**
 * A delivery's result that comes after its send: an officer's confirmation (confirmed), or
 * what a platform task reports for the group (WeCom customer groups: sent with WeCom's send
 * time, failed or skipped with the reason, uncertain).
 */
export interface Confirmation {
  at: Date;
  status: 'confirmed' | 'sent' | 'failed' | 'skipped' | 'uncertain';
  reason: string | null;
}

export interface EnginePorts {
  /** The selected active groups, township by township is not required: the planner sorts. */
  /**
   * The audience in chunks, in group-id order; `readById` (an urgent run) reads each candidate
   * by `_id` so the first chunk comes within a second instead of after a scan of every group;
   * `firstBatchSize`: a smaller first chunk (an urgent run's first batches).
   */
  selectGroups(
    scope: Scope,
    spec: AudienceSpec,
    options?: { readById?: boolean; firstBatchSize?: number },
  ): AsyncIterable<PlannedGroup[]>;
  /** Before a wave of sends (optional): what they share is prepared in one go (their short links). */
  prepareSends?(requests: SendRequest[]): Promise<void>;
  /**
   * A wave of sends whose attempts are claimed, before each is sent (optional): sends that can
   * be made for the whole wave in one write (manual tasks) are made here, each `send` then
   * returning its outcome. Best effort: a send not made here is made by its `send`.
   */
  sendWave?(requests: SendRequest[]): Promise<void>;
  /** Renders the card for one delivery and posts it through the group's channel. */
  send(request: SendRequest, signal: AbortSignal): Promise<SendResult>;
  /** Published per-robot limits of a channel. */
  rateLimits(channel: string): readonly Window[];
  flagGroup(groupId: string, reason: string): Promise<void>;
  /** Whether the notice can still be sent (approved and not archived). */
  noticeSendable(noticeId: string): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Confirmations and platform results among these awaiting delivery ids. */
  confirmations(deliveryIds: string[]): Promise<Map<string, Confirmation>>;
  /** Deliveries confirmed since the instant, with the group's region path (to find the batch). */
  confirmedSince(since: Date): Promise<{ deliveryId: string; regionPath: string[] }[]>;
  /** Tells the statistics that these batches were written (planned, settled, skipped). */
  batchesWritten(batchIds: string[]): Promise<void>;
  /** Category of the notice version (statistics key); the latest approved when no version is given. */
  noticeCategory(noticeId: string, version?: number | null): Promise<string>;
}
