// The engine's ports, made of the real rooms: audience selection, notices, render and the
// channel adapters. One delivery = render the card for its group, post it, classify.
import type { AudienceService } from '../audience/selection.js';
import type { GroupService } from '../audience/groups.js';
import type { AudienceSpec } from '../campaigns/ports.js';
import { type ManualTaskService, settledReferences } from '../channels/manual/tasks.js';
import type { ChannelRegistry } from '../channels/registry.js';
import type { ChannelKind, ChannelMessage, ChannelTarget, Outcome } from '../channels/types.js';
import { SHARED_MESSAGE_CHANNELS } from '../channels/kinds.js';
import { DomainError } from '../lib/errors.js';
import type { MediaStore } from '../media/store.js';
import type { NoticeService } from '../notices/service.js';
import type { Scope } from '../regions/scope.js';
import { type CardStyle, messageFor } from '../channels/message.js';
import { type CardNotice, ImageCardRenderer } from '../render/index.js';
import { calendarDate, toCardNotice } from '../render/from-notice.js';
import type { Confirmation, EnginePorts, PlannedGroup, SendRequest, SendResult } from './ports.js';
import { NoticeModel } from '../notices/model.js';
import { LRUCache } from 'lru-cache';
import mongoose from 'mongoose';
import type { Window } from './rate-limit.js';
import { type BatchItem, DeliveryBatchModel } from '../tracking/model.js';

export interface DispatchDeps {
  audience: AudienceService;
  groups: GroupService;
  notices: NoticeService;
  media: MediaStore;
  channels: ChannelRegistry;
  manualTasks: ManualTaskService;
  rootScope: Scope;
  publicBaseUrl: string;
  timeZone: string;
  /** The short tracked link of a group's card (tracking room; stored on first use). */
  linkFor: (
    campaignId: string,
    groupId: string | null,
    noticeId: string,
    villageCode: string | null,
  ) => Promise<string>;
  /** Stores the short links of many cards in one write, before they are rendered (tracking room). */
  prepareLinks?: (
    targets: { campaignId: string; groupId: string | null; noticeId: string; villageCode: string | null }[],
  ) => Promise<void>;
  /** Whether the officers of a county forward texts without the link (the picture's QR code carries it). */
  omitLinkInText?: (countyCode: string) => Promise<boolean>;
  /** Tells the statistics that these batches changed (tracking room). */
  batchesWritten: (batchIds: string[]) => Promise<void>;
}

interface PreparedNotice {
  card: CardNotice;
  category: string;
  pictureUrl: string | null;
  photos: Buffer[];
}

const NOTICE_CACHE_MS = 10_000;
const NOTICE_CACHE_ENTRIES = 32;

/** How long a delivery following another group's post waits before looking at it again. */
const VIA_WAIT_MS = 5_000;

/**
 * A group whose robot another group of the run has (one chat, issue 20 defect 15): its
 * outcome is that delivery's, read from its batch, and it never posts a second time.
 */
async function followVia(via: NonNullable<SendRequest['via']>): Promise<SendResult> {
  const batch = await DeliveryBatchModel.findById(via.batchId, { items: 1 }).lean<{ items: BatchItem[] }>();
  const first = batch?.items.find((item) => item.groupId === via.groupId);
  const shared = `与“${via.groupName ?? via.groupId}”为同一机器人（同一群聊）`;
  switch (first?.status) {
    case 'sent':
    case 'confirmed':
      return { status: 'sent', note: `${shared}，已随其发出一次，不重复发送` };
    case 'uncertain':
      return { status: 'uncertain', reason: `${shared}，其发送结果不确定` };
    case 'failed':
    case 'skipped':
      return { status: 'permanent', reason: `${shared}，其未能发出：${first.lastError ?? ''}`, flagGroup: false };
    default:
      return { status: 'retryable', reason: `${shared}，等待其发送结果`, retryAfterMs: VIA_WAIT_MS, waiting: true };
  }
}

/**
 * Every card, text or image, carries its group's own short link: clicks and QR scans are
 * counted for the group and its township (a campaign-wide QR code counted in no township).
 * A message that goes to many groups at once (WeCom customer groups) tracks per campaign.
 */
function linkTargetOf(request: SendRequest) {
  const shared = SHARED_MESSAGE_CHANNELS.has(request.channel);
  return {
    campaignId: request.campaignId,
    groupId: shared ? null : request.groupId,
    noticeId: request.noticeId,
    villageCode: shared ? null : (request.regionPath.at(-1) ?? null),
  };
}

function toResult(outcome: Outcome): SendResult {
  switch (outcome.status) {
    case 'sent':
      // A manual-channel send is a task for the officer, not yet a post.
      return outcome.taskId ? { status: 'awaiting' } : { status: 'sent' };
    case 'retryable':
      return { status: 'retryable', reason: `${outcome.code} ${outcome.message}`, retryAfterMs: outcome.retryAfterMs };
    case 'permanent':
      return { status: 'permanent', reason: `${outcome.code} ${outcome.message}`, flagGroup: outcome.groupProblem };
    case 'uncertain':
      return { status: 'uncertain', reason: `${outcome.code} ${outcome.message}` };
  }
}

export class Dispatch implements EnginePorts {
  /** Recently sent notices with their photo: bounded, so a long-lived worker does not keep every notice ever sent. */
  private readonly notices = new LRUCache<string, { at: number; value: Promise<PreparedNotice> }>({
    max: NOTICE_CACHE_ENTRIES,
  });
  private readonly images = new ImageCardRenderer({ cacheBytes: 64 * 1024 * 1024 });
  /** Outcomes of sends made by `sendWave` (manual tasks; null: not made there), taken by their `send`. */
  private readonly madeInWave = new Map<string, Promise<SendResult | null>>();

  constructor(private readonly deps: DispatchDeps) {}

  batchesWritten(batchIds: string[]): Promise<void> {
    return this.deps.batchesWritten(batchIds);
  }

  async *selectGroups(
    scope: Scope,
    spec: AudienceSpec,
    options: { readById?: boolean; firstBatchSize?: number } = {},
  ): AsyncIterable<PlannedGroup[]> {
    const { recipientsOf: _, recipientsOfNotice: __, ...selection } = spec;
    const chunks = this.deps.audience.selectedGroupBatches(scope, selection, { batchSize: 500, ...options });
    for await (const members of chunks) {
      yield members.map((member) => ({
        groupId: member.groupId,
        groupName: member.groupName,
        channel: member.channelKind,
        robotKey: member.robotKey,
        credentialsSealed: member.credentialsSealed,
        memberCount: member.memberCount,
        villageCode: member.regionCode,
        villageName: member.villageName,
        countyCode: member.countyCode ?? member.regionPath[3] ?? member.regionCode,
        townshipCode: member.townshipCode ?? member.regionPath[4] ?? member.regionCode,
        townshipName: member.townshipName ?? '',
        townshipPath: member.regionPath.slice(0, 5),
        officerName: member.officer?.name ?? null,
        officerPhone: member.officer?.phone ?? null,
      }));
    }
  }

  /**
   * The notice as rendered: a given version exactly (a run's, frozen, so kept while it is
   * used), or the latest approved (runs planned before versions were recorded; cached 10 s).
   */
  private prepared(noticeId: string, version: number | null = null): Promise<PreparedNotice> {
    const key = version === null ? noticeId : `${noticeId}@${version}`;
    const cached = this.notices.get(key);
    if (cached && (version !== null || Date.now() - cached.at < NOTICE_CACHE_MS)) return cached.value;
    const value = (async () => {
      const approved = await this.deps.notices.getApprovedVersion(this.deps.rootScope, noticeId, version ?? undefined);
      const picture = approved.content.media[0]?.sha256 ?? approved.content.video?.posterSha256 ?? null;
      const file = picture ? await this.deps.media.read(picture) : null;
      return {
        card: toCardNotice(approved.content, calendarDate(approved.approvedAt, this.deps.timeZone)),
        category: approved.content.category,
        pictureUrl: picture ? `${this.deps.publicBaseUrl}/media/${picture}` : null,
        photos: file ? [file.data] : [],
      };
    })();
    value.catch(() => this.notices.delete(key));
    this.notices.set(key, { at: Date.now(), value });
    return value;
  }

  /** Read fresh (one _id lookup), not from the card cache: a retraction must stop sends at once. */
  async noticeSendable(noticeId: string): Promise<{ ok: true } | { ok: false; reason: string }> {
    const doc = mongoose.isValidObjectId(noticeId)
      ? await NoticeModel.findById(noticeId, { status: 1, retractedAt: 1, approvedVersion: 1 }).lean()
      : null;
    if (!doc) return { ok: false, reason: '通知不存在' };
    if (doc.status === 'archived') return { ok: false, reason: '通知已归档，不能再发送' };
    if (doc.retractedAt) return { ok: false, reason: '通知已撤回，不能再发送' };
    if (doc.approvedVersion == null) return { ok: false, reason: '通知尚无审核通过的版本' };
    try {
      await this.prepared(noticeId);
      return { ok: true };
    } catch (error) {
      if (error instanceof DomainError) return { ok: false, reason: error.message };
      throw error;
    }
  }

  async noticeCategory(noticeId: string, version: number | null = null): Promise<string> {
    return (await this.prepared(noticeId, version)).category;
  }

  rateLimits(channel: string): readonly Window[] {
    return this.deps.channels.adapterFor(channel as ChannelKind).rateLimits;
  }

  async confirmations(deliveryIds: string[]): Promise<Map<string, Confirmation>> {
    const settled = await settledReferences(deliveryIds);
    return new Map(
      [...settled].map(([id, s]) => [id, { at: s.at, status: s.status ?? 'confirmed', reason: s.reason }] as const),
    );
  }

  async confirmedSince(since: Date): Promise<{ deliveryId: string; regionPath: string[] }[]> {
    const confirmed = await this.deps.manualTasks.confirmedSince(since);
    return confirmed.map((c) => ({ deliveryId: c.reference, regionPath: c.regionPath }));
  }

  async flagGroup(groupId: string, reason: string): Promise<void> {
    await this.deps.groups.flagGroup(groupId, reason);
  }

  /**
   * Before a wave of sends: their cards' short links stored in one write rather than one
   * per card (a send then finds its link made). Best effort: a failure here leaves each
   * send to store its own link.
   */
  async prepareSends(requests: SendRequest[]): Promise<void> {
    if (!this.deps.prepareLinks) return;
    const targets = requests.filter((request) => !request.via).map(linkTargetOf);
    if (targets.length === 0) return;
    await this.deps.prepareLinks(targets).catch(() => undefined);
  }

  /**
   * Before a wave of sends whose attempts are claimed: the manual-channel deliveries' officer
   * tasks made in one insert and one watch-list write (`ManualTaskService.createTasks`), not
   * three writes per task. Making a task is that channel's whole send, idempotent per
   * delivery; each of these sends then takes its outcome from here (and may be started
   * before this ends: it waits for it). Best effort: a delivery left out (an error) makes
   * its task on its own, as before.
   */
  sendWave(requests: SendRequest[]): Promise<void> {
    const manual = requests.filter((request) => request.channel === 'manual' && !request.via);
    if (manual.length === 0) return Promise.resolve();
    const made = (async () => {
      const list = await Promise.all(
        manual.map(async (request) => {
          const notice = await this.prepared(request.noticeId, request.noticeVersion ?? null);
          const message = await this.message(request, notice);
          return { target: this.targetOf(request), message, reference: request.deliveryId };
        }),
      );
      return this.deps.manualTasks.createTasks(list);
    })().catch(() => new Set<string>());
    // Registered before anything is awaited, so a send started right after finds it.
    for (const request of manual)
      this.madeInWave.set(
        request.deliveryId,
        made.then((done) => (done.has(request.deliveryId) ? { status: 'awaiting' } : null)),
      );
    return made.then(() => undefined);
  }

  private async message(request: SendRequest, notice: PreparedNotice): Promise<ChannelMessage> {
    const channel = request.channel as ChannelKind;
    const shared = SHARED_MESSAGE_CHANNELS.has(channel);
    const target = linkTargetOf(request);
    const link = await this.deps.linkFor(target.campaignId, target.groupId, target.noticeId, target.villageCode);
    const countyCode = request.regionPath[3] ?? '';
    const omitLinkInText =
      channel === 'manual' && this.deps.omitLinkInText ? await this.deps.omitLinkInText(countyCode) : false;
    const prepared = await messageFor(
      channel,
      {
        card: notice.card,
        cardStyle: request.cardStyle as CardStyle,
        pictureUrl: notice.pictureUrl,
        photos: notice.photos,
      },
      { link, personal: shared ? null : request.personal, omitLinkInText },
      { images: this.images },
    );
    return prepared.message;
  }

  private targetOf(request: SendRequest): ChannelTarget {
    return {
      groupId: request.groupId,
      groupName: request.groupName,
      credentials: this.deps.groups.openCredentials(request.credentialsSealed),
      regionPath: request.regionPath,
      officer: request.personal.officerName
        ? { name: request.personal.officerName, phone: request.personal.officerPhone }
        : null,
    };
  }

  async send(request: SendRequest, signal: AbortSignal): Promise<SendResult> {
    if (request.via) return followVia(request.via);
    const made = this.madeInWave.get(request.deliveryId);
    if (made) {
      this.madeInWave.delete(request.deliveryId);
      const result = await made;
      if (result) return result;
    }
    const notice = await this.prepared(request.noticeId, request.noticeVersion ?? null);
    const message = await this.message(request, notice);
    const adapter = this.deps.channels.adapterFor(request.channel as ChannelKind);
    const outcome = await adapter.send(this.targetOf(request), message, { signal, reference: request.deliveryId });
    return toResult(outcome);
  }
}
