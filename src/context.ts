// Composition root: config + database → every room's service, built once and shared by
// all process roles (api, scheduler, worker).
import type { Writable } from 'node:stream';
import { type Log, createLog } from './lib/log.js';
import { GroupService } from './audience/groups.js';
import { AudienceService } from './audience/selection.js';
import { AuditService } from './audit/service.js';
import { LoginThrottle } from './auth/login-throttle.js';
import { STAFF } from './auth/roles.js';
import { SessionService, rekeySessions } from './auth/sessions.js';
import { UserService } from './auth/users.js';
import type { Config } from './config.js';
import { CountyOfficerTextService } from './channels/manual/county-text.js';
import { KeptOpenCounts } from './channels/manual/kept-open-counts.js';
import { ManualTaskService } from './channels/manual/tasks.js';
import { ChannelRegistry } from './channels/registry.js';
import { Outbound } from './channels/outbound.js';
import { WecomApiClient } from './channels/wecom-group/api.js';
import { buildWecomCampaignTasks } from './channels/wecom-group/campaign-tasks.js';
import { buildWecomCapSends } from './channels/wecom-group/cap-sends.js';
import { buildWecomLive } from './channels/wecom-group/live.js';
import { WecomGroupService } from './channels/wecom-group/service.js';
import { WecomGroupSync } from './audience/wecom-sync.js';
import { setStateClaimStaleAfter } from './db/claims.js';
import { type Database, syncIndexes } from './db/connection.js';
import { SecretBox } from './lib/cipher.js';
import { type Clock, systemClock } from './lib/clock.js';
import { MediaStore } from './media/store.js';
import { NoticeService } from './notices/service.js';
import { OfficerNotifier } from './notifications/notifier.js';
import { activeOfficerFor, activeUserById } from './notifications/officers.js';
import { KeptCampaignFacts } from './notifications/kept-facts.js';
import { campaignTaskStates } from './notifications/task-state.js';
import { OfficerRobotService } from './notifications/robots.js';
import { loadCredentialsKey } from './lib/credentials-key.js';
import { CampaignService } from './campaigns/service.js';
import { isQuiet } from './campaigns/schedule.js';
import { deliveryControl, wakeBatchOf } from './engine/control.js';
import { DEFAULT_RETRY } from './engine/backoff.js';
import { Dispatch } from './engine/dispatch.js';
import { buildRunLists, campaignPlanning } from './engine/runs.js';
import { markBuiltIfNoClicks } from './tracking/click-backfill.js';
import { buildNoticeLists } from './tracking/run-batches.js';
import { buildRunSummaries } from './tracking/run-summaries.js';
import { buildOpenRuns, openRunIds } from './engine/open-runs.js';
import { buildPlanningQueue } from './engine/planner.js';
import { buildRetentionDue } from './engine/retention-due.js';
import {
  buildOpenCounts,
  buildOpenTaskCampaignLists,
  buildOpenTaskDueSlots,
  buildOpenTaskWatch,
} from './channels/manual/watch.js';
import { buildNoticeIntentList } from './notices/intent-list.js';
import { COUNTS_LOG } from './channels/manual/open-counts.js';
import { COUNTY_YEARS_LOG } from './tracking/kept-county-years.js';
import { buildTaskHistory } from './channels/manual/history.js';
import { buildAuditPages } from './audit/pages.js';
import { ensureTokens } from './db/versions.js';
import { ensureRegionToken } from './regions/model.js';
import { TALLIED_COLLECTIONS } from './workbench/tallies.js';
import { buildStepCounts } from './notifications/step-counts.js';
import { buildStepLists } from './notifications/step-list.js';
import type { EngineDeps } from './engine/runner.js';
import { ROOT_REGION_CODE } from './regions/levels.js';
import { RegionService } from './regions/service.js';
import { type Tracking, createTracking } from './tracking/index.js';
import { CaseService } from './cases/service.js';
import { PublicationService } from './residents/publication.js';
import { TipChallenges } from './tips/challenge.js';
import { TipLimiter } from './tips/limits.js';
import { caseOfficerNotifier } from './tips/notify.js';
import { TipService } from './tips/service.js';
import { ReviewFactsService } from './workbench/review.js';
import { WorkbenchService } from './workbench/service.js';

export interface Context {
  config: Config;
  /** Log lines outside a request (lib/log.ts). */
  log: Log;
  db: Database;
  clock: Clock;
  regions: RegionService;
  audit: AuditService;
  users: UserService;
  sessions: SessionService;
  media: MediaStore;
  notices: NoticeService;
  groups: GroupService;
  audience: AudienceService;
  manualTasks: ManualTaskService;
  /** Per county: whether officers forward texts without the link (the picture's QR code carries it). */
  countyTexts: CountyOfficerTextService;
  /** WeCom customer groups: the county apps, owners' tasks and their results. */
  wecomGroups: WecomGroupService;
  /** The county's customer groups synced from WeCom into village groups. */
  wecomSync: WecomGroupSync;
  channels: ChannelRegistry;
  campaigns: CampaignService;
  /** The engine's view of the rooms above it (audience, notices, render, channels). */
  dispatch: Dispatch;
  tracking: Tracking;
  /** Officers' notification robots and superiors. */
  officerRobots: OfficerRobotService;
  /** Tells officers of their manual tasks and escalates (run by the scheduler role). */
  notifier: OfficerNotifier;
  /** What residents may see of a notice (sent? withdrawn? tip form open?). */
  publication: PublicationService;
  tips: TipService;
  /** Wanted cases: deadline sweep, solved action, follow-ups. */
  cases: CaseService;
  /** The workbench's 待办 counts and the navigation badges. */
  workbench: WorkbenchService;
  /** Who wrote and submitted what a reviewer decides on, and a campaign's audience. */
  reviewFacts: ReviewFactsService;
  /** Sealing key of channel credentials (also of users' notification robots). */
  secrets: SecretBox;
}

export function createContext(
  config: Config,
  db: Database,
  clock: Clock = systemClock,
  options: { logStream?: Writable } = {},
): Context {
  // A dead writer's state claim is passed over once the lease it would have held has lapsed.
  setStateClaimStaleAfter(config.leaseMs);
  const regions = new RegionService();
  const audit = new AuditService(clock, [ROOT_REGION_CODE]);
  const throttle = new LoginThrottle(clock, {
    freeFailures: config.loginMaxFailures,
    maxDelayMinutes: config.loginLockoutMinutes,
  });
  const users = new UserService(regions, audit, throttle);
  const sessions = new SessionService(clock, { tokenTtlHours: config.tokenTtlHours }, audit, throttle);
  const media = new MediaStore(() => {
    if (!db.connection.db) throw new Error('database not connected');
    return db.connection.db;
  });
  const notices = new NoticeService(
    regions,
    media,
    audit,
    clock,
    // The case officer: active staff inside the notice's scope, or whose scope covers it (26.11).
    async (id, regionPath) => {
      const user = await users.get(regions.rootScope(), id).catch(() => null);
      if (!user?.active || !STAFF.includes(user.role)) return false;
      if (regionPath.includes(user.regionCode)) return true; // the user's scope covers the notice
      const home = await regions.find(user.regionCode);
      return home !== null && home !== undefined && home.regionPath.includes(regionPath.at(-1) ?? '');
    },
    config.timeZone,
  );
  // Channel credentials are sealed with this key; manual-task links are signed with a key derived from it.
  const secrets = new SecretBox(loadCredentialsKey(config.credentialsKey, config.dataDir));
  const groups = new GroupService(regions, secrets, clock);
  const audience = new AudienceService(groups);
  // A task follows its campaign and notice, read live on every task read.
  // One kept copy of the per-county open-task documents per process (kept-open-counts.ts): the
  // workbench, the open-task list and the monthly table read the same, so the api role's warm-up
  // serves the first call of each, and a count write is re-read once, not once per screen.
  const openCounts = new KeptOpenCounts();
  const manualTasks = new ManualTaskService(secrets, clock, config.publicBaseUrl, campaignTaskStates, {
    trace: config.intentTrace,
    openCounts,
  });
  const countyTexts = new CountyOfficerTextService(clock);
  const wecomGroups = new WecomGroupService(
    secrets,
    new WecomApiClient({
      baseUrl: config.wecomApiBaseUrl,
      outbound: new Outbound(config.outboundAllowHosts),
      timeoutMs: config.channelTimeoutMs,
      clock,
    }),
    clock,
    { settleMs: 60_000, horizonMs: 3 * 24 * 3600_000, timeZone: config.timeZone, pollsPerTick: 20 },
  );
  audience.attachCapCounter((selected) => wecomGroups.overCap(selected));
  const channels = new ChannelRegistry(
    {
      wecomBaseUrl: config.wecomBaseUrl,
      dingtalkBaseUrl: config.dingtalkBaseUrl,
      feishuBaseUrl: config.feishuBaseUrl,
      timeoutMs: config.channelTimeoutMs,
      outboundAllowHosts: config.outboundAllowHosts,
    },
    clock,
    manualTasks,
    wecomGroups,
  );
  const campaigns = new CampaignService(
    clock,
    config.timeZone,
    {
      summarizeAudience: (scope, spec) => audience.totals(scope, spec),
      findNotice: async (scope, noticeId) => {
        const notice = await notices.get(scope, noticeId);
        const problem = await notices.getApprovedVersion(scope, noticeId).then(
          () => null,
          (error: Error) => error.message,
        );
        return {
          id: notice.id,
          title: notice.content.title,
          category: notice.content.category,
          problem,
          withdrawn: notice.status === 'archived' || notice.retractedAt !== null,
        };
      },
      markNoticeRetracted: (noticeId) => notices.markRetracted(noticeId, clock.now()),
      withdrawTasks: async (campaignId, reason) => {
        await manualTasks.withdrawCampaignTasks(campaignId, reason);
      },
      noticeWithdrawn: async (noticeId) =>
        (await notices.get(regions.rootScope(), noticeId).then((notice) => notice.retractedAt)) !== null,
    },
    audit,
    deliveryControl(clock, (batchIds) => tracking.rollups.batchesWritten(batchIds)),
    { intentLeaseMs: config.leaseMs, trace: config.intentTrace, quietHours: config.quietHours },
  );
  // An officer's confirmation wakes the delivery's batch, whose worker records it.
  manualTasks.onConfirm((task) => wakeBatchOf(task.reference, clock.now(), task.regionPath));
  // So does WeCom's report of a customer group (sent, failed, skipped).
  wecomGroups.onSettled((reference, regionPath) => wakeBatchOf(reference, clock.now(), regionPath));
  const tracking = createTracking(config, clock, regions, audit, async (groupId) =>
    groups.get(regions.rootScope(), groupId).then(
      (group) => group.regionCode,
      () => null,
    ),
    openCounts,
  );
  tracking.progress.attachRunState((campaignId) => campaignPlanning(campaignId));
  // The roll-up sweep reads the batches of the runs that may still be written (engine/open-runs.ts).
  tracking.rollups.readOpenRuns(openRunIds);
  const dispatch = new Dispatch({
    audience,
    groups,
    notices,
    media,
    channels,
    manualTasks,
    rootScope: regions.rootScope(),
    publicBaseUrl: config.publicBaseUrl,
    timeZone: config.timeZone,
    linkFor: (campaignId, groupId, noticeId, villageCode) =>
      tracking.link({ campaignId, groupId, noticeId, villageCode }),
    prepareLinks: (targets) => tracking.shortLinks.prepare(targets),
    omitLinkInText: (countyCode) => countyTexts.withoutLink(countyCode),
    batchesWritten: (batchIds) => tracking.rollups.batchesWritten(batchIds),
  });
  // A run's WeCom tasks follow its campaign as a worker's batch does: stopped, held or sent.
  wecomGroups.attach({
    runState: async (campaignId) => {
      const state = await campaigns.engineState(campaignId);
      if (!state) return { kind: 'stop', reason: '推送不存在' };
      if (state.status === 'cancelled') return { kind: 'stop', reason: state.retracted ? '通告已撤回' : '推送已取消' };
      const campaign = await campaigns.findForEngine(campaignId);
      const sendable = campaign ? await dispatch.noticeSendable(campaign.noticeId) : { ok: false as const, reason: '推送不存在' };
      if (!sendable.ok) return { kind: 'stop', reason: sendable.reason };
      if (state.status !== 'approved' && state.status !== 'completed') return { kind: 'hold' };
      return { kind: 'send' };
    },
    campaign: async (campaignId) => {
      const campaign = await campaigns.findForEngine(campaignId);
      return campaign ? { priority: campaign.priority, noticeId: campaign.noticeId } : null;
    },
    quietNow: (priority) => priority !== 'urgent' && isQuiet(clock.now(), config.quietHours, config.timeZone),
  });
  const officerRobots = new OfficerRobotService(secrets, clock);
  // The notifier's campaigns and notices, kept while their version tokens stay (kept-facts.ts).
  const notifierFacts = new KeptCampaignFacts();
  const notifier = new OfficerNotifier(
    {
      tasksOf: async (ids) => [
        ...(await manualTasks.notifierTasks(
          ids.filter((id) => !id.startsWith('wecom:')),
          (campaignIds) => notifierFacts.states(campaignIds),
        )),
        // WeCom customer groups of tasks the owner has not sent: listed like tasks, without a link.
        ...(await wecomGroups.openItems(ids.filter((id) => id.startsWith('wecom:')).map((id) => id.slice(6)))).map(
          (item) => ({
            id: `wecom:${item.reference}`,
            reference: item.reference,
            groupId: item.groupId,
            groupName: item.groupName,
            officer: item.officer,
            title: '',
            text: null,
            url: null,
            hasImage: false,
            createdAt: item.createdAt,
            confirmedAt: null,
            state: 'open' as const,
            withdrawnReason: null,
            regionPath: item.regionPath,
            link: null,
            told: item.told,
            wecomTaskId: item.taskId,
          }),
        ),
      ],
      markTold: async (taskIds) => {
        await manualTasks.markTold(taskIds.filter((id) => !id.startsWith('wecom:')));
        await wecomGroups.markTold(taskIds.filter((id) => id.startsWith('wecom:')).map((id) => id.slice(6)));
      },
      // A stop reaches WeCom tasks through cancel_groupmsg_send (WecomGroupService), not here.
      withdrawTasks: (taskIds, reason) =>
        manualTasks.withdrawTasks(
          taskIds.filter((id) => !id.startsWith('wecom:')),
          reason,
        ),
      remindWecom: async (taskIds) => {
        const result = await wecomGroups.remind(taskIds);
        const parts = [
          result.reminded ? `已通过企业微信再次提醒群主（${result.reminded} 个群发任务）` : null,
          result.limited ? `${result.limited} 个任务今天已提醒 3 次（企业微信上限），未再提醒` : null,
          ...result.failed.map((message) => `企业微信提醒失败：${message}`),
        ];
        return parts.filter(Boolean).join('；');
      },
      repairConfirmations: (ids) => manualTasks.repairConfirmations(ids),
      officerFor: activeOfficerFor,
      userById: activeUserById,
      campaign: (id) => notifierFacts.campaign(id),
    },
    officerRobots,
    channels,
    {
      reminderMinutes: config.taskReminderMinutes,
      quietHours: config.quietHours,
      timeZone: config.timeZone,
      publicBaseUrl: config.publicBaseUrl,
    },
    clock,
  );
  const publication = new PublicationService(notices, regions.rootScope(), clock, config.timeZone);
  const tips = new TipService(
    {
      publicState: (noticeId) => publication.state(noticeId),
      caseOf: async (noticeId) => {
        const notice = await notices.get(regions.rootScope(), noticeId);
        const approved = await notices.getVersion(
          regions.rootScope(),
          noticeId,
          notice.approvedVersion ?? notice.version,
        );
        return {
          regionPath: notice.regionPath,
          contactUserId: approved.content.wanted?.contactUserId ?? null,
          title: approved.content.title,
        };
      },
      casesEndedBefore: (cutoff) => notices.casesEndedBefore(cutoff),
      tellCaseOfficer: caseOfficerNotifier({
        credentialsOf: (userId) => officerRobots.credentials(userId),
        channels,
        publicBaseUrl: config.publicBaseUrl,
      }),
    },
    // Residents' tip photos: a bucket of their own, which /media never serves.
    new MediaStore(() => {
      if (!db.connection.db) throw new Error('database not connected');
      return db.connection.db;
    }, 'tipphotos'),
    new TipLimiter(),
    audit,
    clock,
    config.timeZone,
    config.tipRetentionDays,
    new TipChallenges(secrets.derive('tip-challenge')),
  );
  const cases = new CaseService(notices, campaigns, tips, audit, clock, config.timeZone, {
    id: 'system',
    username: 'system',
    displayName: '系统',
    role: 'admin',
    scope: regions.rootScope(),
    regionPath: [ROOT_REGION_CODE],
  }, {
    intentLeaseMs: config.leaseMs,
    trace: config.intentTrace,
    awaitingOfficers: (campaignId) => tracking.progress.awaitingOfficers(campaignId),
    awaitingParts: (campaignId) => tracking.progress.awaitingParts(campaignId),
    tasksWithdrawn: (campaignId) => tracking.progress.tasksWithdrawn(campaignId),
  });
  return {
    config,
    log: createLog(config.logLevel, options.logStream),
    db,
    clock,
    regions,
    audit,
    users,
    sessions,
    media,
    notices,
    groups,
    audience,
    manualTasks,
    countyTexts,
    wecomGroups,
    wecomSync: new WecomGroupSync(wecomGroups, groups, clock),
    channels,
    campaigns,
    dispatch,
    tracking,
    officerRobots,
    notifier,
    publication,
    tips,
    cases,
    workbench: new WorkbenchService(
      tracking.stats,
      clock,
      config.timeZone,
      config.tallyRecountMinutes * 60_000,
      openCounts,
    ),
    reviewFacts: new ReviewFactsService(campaigns, audience),
    secrets,
  };
}

/**
 * Makes a database ready for use: indexes, the root region, the first admin. Idempotent,
 * safe for several instances starting at once. Returns a generated admin password, once.
 */
export async function prepareDatabase(ctx: Context): Promise<string | null> {
  await syncIndexes(ctx.db.connection);
  await ctx.regions.ensureRoot();
  await ctx.audience.prepare();
  await ctx.tracking.secret.load();
  await ctx.notices.backfillWithdrawnPictures();
  await buildRunLists();
  await buildNoticeLists();
  await ctx.manualTasks.backfillConfirmationWatch();
  await buildOpenRuns();
  // The planning queue for runs an install left planning before it existed (once; engine/planner.ts).
  await buildPlanningQueue();
  // Retention's due keys for the runs an install already settled (once; engine/retention-due.ts).
  await buildRetentionDue(ctx.clock.now());
  // Per-run summaries of the runs an install already has (once; tracking/run-summaries.ts).
  await buildRunSummaries(ctx.clock.now());
  // The WeCom customer-group loop's live list for an install written before it (once; channels/wecom-group/live.ts).
  await buildWecomLive(ctx.clock.now());
  // The WeCom customer-group tasks of an install written before their campaign lists (once; channels/wecom-group/campaign-tasks.ts).
  await buildWecomCampaignTasks();
  // The sends counted against WeCom customer groups' caps of an install written before their list (once; channels/wecom-group/cap-sends.ts).
  await buildWecomCapSends(ctx.clock.now());
  // The notifier's due keys of a watch list written before them (once; channels/manual/due-slots.ts).
  await buildOpenTaskDueSlots(ctx.clock.now());
  // The campaign lists of the watch entries an install already has (once; channels/manual/due-slots.ts).
  await buildOpenTaskCampaignLists();
  // The notices' unfinished intents of an install written before their list (once; notices/intent-list.ts).
  await buildNoticeIntentList();
  // The open-task watch list of a database written before it existed (once; channels/manual/watch.ts).
  await buildOpenTaskWatch(ctx.clock.now(), async (since) =>
    (await ctx.wecomGroups.openItemsSince(since)).map((item) => ({
      id: `wecom:${item.reference}`,
      kind: 'wecom' as const,
      reference: item.reference,
      regionPath: item.regionPath,
      officerName: item.officer?.name ?? null,
      officerPhone: item.officer?.phone ?? null,
      createdAt: item.createdAt,
    })),
  );
  // The task history lists of a database written before they existed (once; channels/manual/history.ts).
  await buildTaskHistory();
  // The audit screen's lists of an install written before they existed (once; audit/pages.ts).
  await buildAuditPages();
  // The per-county open-task counts of a list written before they existed (once; channels/manual/open-counts.ts).
  await buildOpenCounts(ctx.clock.now());
  // The version tokens the workbench's tallies are kept under (db/versions.ts; once per collection).
  await ensureTokens([...TALLIED_COLLECTIONS, COUNTS_LOG, COUNTY_YEARS_LOG]);
  await ensureRegionToken();
  // A campaign's notification steps by `_id`, and the notifier's outbox (once; notifications/step-list.ts).
  await buildStepLists();
  // The per-kind counts of the campaigns' steps of an install written before them (once; notifications/step-counts.ts).
  await buildStepCounts();
  // Sessions read by `_id` (their token hash); an older install's are re-keyed once (auth/sessions.ts).
  await rekeySessions();
  // The monthly table's click tallies: a new install's marked built; an older install's clicks
  // are backfilled after start by the roll-up lease's holder (tracking/click-backfill.ts).
  await markBuiltIfNoClicks();
  // The reach day documents of an install folded before they existed (once, under the roll-up lease; tracking/reach-days.ts).
  await ctx.tracking.rollups.prepareDays(`start:${process.pid}:${Date.now()}`);
  return ctx.users.ensureFirstAdmin(ctx.config.adminUsername, ctx.config.adminPassword);
}

/** What the scheduler and the workers of this process need. */
export function engineDeps(ctx: Context): EngineDeps {
  return {
    campaigns: ctx.campaigns,
    regions: ctx.regions,
    ports: ctx.dispatch,
    log: ctx.log,
    clock: ctx.clock,
    timeZone: ctx.config.timeZone,
    quietHours: ctx.config.quietHours,
    worker: {
      concurrency: ctx.config.workerConcurrency,
      retry: { ...DEFAULT_RETRY, maxAttempts: ctx.config.maxAttempts, baseMs: ctx.config.retryBaseMs },
      leaseMs: ctx.config.leaseMs,
    },
    intentSweeps: [() => ctx.campaigns.sweepIntentsLeft(), () => ctx.cases.sweepIntentsLeft()],
  };
}
