// A test send (试发): before submitting a campaign, its author posts the campaign's card —
// the notice's approved version in the chosen card style, personalised for the group — to
// one group they pick, through the group's real channel, and sees the outcome. Marked
// 【测试】 in the title so the group knows; audited; never counted as a delivery.
//
// No reviewer sees a test send, so it is held in (issue 26, finding 7): only to a group an
// admin marked for tests (`forTests`) or to the author's own notification robot; not in
// quiet hours; at most TEST_SEND_DAILY_QUOTA per user and local day (counted by claimed keys,
// so concurrent requests and several API processes cannot exceed it).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AudienceMember, AudienceService } from '../../audience/selection.js';
import type { GroupService } from '../../audience/groups.js';
import { omitsLinkInText, personalOf } from '../../audience/message-group.js';
import type { AuditService } from '../../audit/service.js';
import { AUTHORS } from '../../auth/roles.js';
import type { ChannelRegistry } from '../../channels/registry.js';
import type { CountyOfficerTextService } from '../../channels/manual/county-text.js';
import { messageFor } from '../../channels/message.js';
import { allow, principal } from '../../http/access.js';
import { ClaimModel, claimOnce } from '../../db/claims.js';
import { Conflict, Forbidden, InvalidInput, TooManyRequests } from '../../lib/errors.js';
import { ObjectIdString } from '../../lib/schemas.js';
import type { OfficerRobotService } from '../../notifications/robots.js';
import type { Personalisation } from '../../render/content.js';
import type { ChannelKind } from '../../channels/kinds.js';
import type { ChannelTarget } from '../../channels/types.js';
import { type QuietHours, isQuiet, localDay } from '../schedule.js';
import { mediaUrl } from '../../media/routes.js';
import type { MediaStore } from '../../media/store.js';
import type { NoticeService } from '../../notices/service.js';
import { calendarDate, toCardNotice } from '../../render/from-notice.js';

const TEST_MARK = '【测试】';

export const TestSendBody = Type.Object(
  {
    noticeId: ObjectIdString,
    groupId: Type.Optional(ObjectIdString),
    ownRobot: Type.Optional(Type.Literal(true, { description: '试发到本人的通知机器人（与 groupId 二选一）' })),
    cardStyle: Type.Optional(Type.Union([Type.Literal('text'), Type.Literal('rich'), Type.Literal('image')])),
  },
  { additionalProperties: false },
);

export const TestSendReply = Type.Object({
  status: Type.Union([
    Type.Literal('sent'),
    Type.Literal('retryable'),
    Type.Literal('permanent'),
    Type.Literal('uncertain'),
  ]),
  groupName: Type.String(),
  channel: Type.String(),
  message: Type.String(),
});

export interface TestSendOptions {
  notices: NoticeService;
  groups: GroupService;
  audience: AudienceService;
  channels: ChannelRegistry;
  media: MediaStore;
  audit: AuditService;
  /** Whether a county's officers forward texts without the link (as the engine's sends do). */
  countyTexts: CountyOfficerTextService;
  publicBaseUrl: string;
  timeZone: string;
  quietHours: QuietHours;
  /** Test sends per user and local day. */
  dailyQuota: number;
  officerRobots: Pick<OfficerRobotService, 'credentials'>;
  now: () => Date;
}

/** Takes one of the user's test sends of the day, or says none is left. */
async function takeQuota(userId: string, day: string, quota: number, now: Date): Promise<boolean> {
  const prefix = `testsend:${userId}:${day}:`;
  const used = await ClaimModel.countDocuments({ _id: { $regex: `^${prefix}` } });
  for (let n = used + 1; n <= quota; n++) {
    if (await claimOnce(`${prefix}${n}`, userId, now)) return true;
  }
  return false;
}

/** Seconds from `now` to the next local midnight. */
function secondsToTomorrow(now: Date, timeZone: string): number {
  const local = new Date(now.toLocaleString('en-US', { timeZone }));
  const midnight = new Date(local);
  midnight.setHours(24, 0, 0, 0);
  return Math.max(1, Math.ceil((midnight.getTime() - local.getTime()) / 1000));
}

export const testSendRoutes: FastifyPluginAsyncTypebox<TestSendOptions> = async (app, options) => {
  app.post(
    '/api/campaigns/test-send',
    {
      config: allow(AUTHORS),
      schema: {
        tags: ['campaigns'],
        summary: '试发：把推送的卡片发到一个群（标题带【测试】，不计入发送统计）',
        body: TestSendBody,
        response: { 200: TestSendReply },
      },
    },
    async (request) => {
      const by = principal(request);
      const { noticeId, groupId, ownRobot } = request.body;
      const cardStyle = request.body.cardStyle ?? 'rich';
      if (Boolean(groupId) === Boolean(ownRobot)) {
        throw new InvalidInput('请选择一个试发群，或试发到本人的通知机器人（二选一）', 'groupId');
      }
      const now = options.now();
      const notice = await options.notices.getApprovedVersion(by.scope, noticeId);
      let target: ChannelTarget;
      let targetName: string;
      let channel: ChannelKind;
      let personal: Personalisation;
      if (groupId) {
        const group = await options.groups.get(by.scope, groupId);
        if (!group.forTests) {
          throw new Forbidden(`「${group.name}」不是试发群：试发只能发到管理员标记的试发群，或本人的通知机器人`);
        }
        const [member] = (await options.audience.sendTargets([group.id])) as [AudienceMember];
        target = member;
        targetName = group.name;
        channel = group.channelKind;
        personal = personalOf(member);
      } else {
        const credentials = await options.officerRobots.credentials(by.id);
        if (!credentials) throw new InvalidInput('您还没有配置通知机器人，请先在“我的设置”里配置', 'ownRobot');
        target = {
          groupId: `user:${by.id}`,
          groupName: '通知机器人',
          credentials,
          regionPath: [],
          officer: null,
        };
        targetName = '我的通知机器人';
        channel = credentials.kind;
        personal = { villageName: '试发', townshipName: null, officerName: null, officerPhone: null };
      }
      // After the notice and the group are found in the caller's scope: what lies outside it
      // is refused the same way at any hour.
      const { start, end } = options.quietHours;
      if (isQuiet(now, options.quietHours, options.timeZone)) {
        throw new Conflict(`现在是免打扰时段（${start}–${end}），试发请在 ${end} 以后进行`, 'groupId');
      }
      if (!(await takeQuota(by.id, localDay(now, options.timeZone), options.dailyQuota, now))) {
        throw new TooManyRequests(
          `今天的试发次数已用完（每人每天 ${options.dailyQuota} 次），请明天再试`,
          secondsToTomorrow(now, options.timeZone),
        );
      }
      const card = toCardNotice(
        { ...notice.content, title: `${TEST_MARK}${notice.content.title}` },
        calendarDate(options.now(), options.timeZone),
      );
      // The preview's link: the notice's page (a test send is no campaign, so it has no tracked link).
      const link = `${options.publicBaseUrl}/n/${noticeId}`;
      const picture = notice.content.media[0]?.sha256 ?? notice.content.video?.posterSha256 ?? null;
      const file = cardStyle === 'image' && picture ? await options.media.read(picture) : null;
      const omitLinkInText = await omitsLinkInText(options.countyTexts, channel, target.regionPath);
      const { message } = await messageFor(
        channel,
        {
          card,
          cardStyle,
          pictureUrl: picture ? mediaUrl(options.publicBaseUrl, picture) : null,
          photos: file ? [file.data] : [],
        },
        { link, personal, omitLinkInText },
      );
      const outcome = await options.channels
        .adapterFor(channel)
        .send(target, message, { reference: `test-${noticeId}-${groupId ?? 'own-robot'}-${Date.now()}` });
      await options.audit.record({
        actor: by,
        action: 'campaign.test-send',
        target: groupId ? { kind: 'group', id: groupId } : { kind: 'user', id: by.id },
        ip: request.ip,
        details: { noticeId, cardStyle, outcome: outcome.status, ownRobot: !groupId },
      });
      const text = outcome.status === 'sent' ? `已发送到「${targetName}」，请在群里查看` : outcome.message;
      return { status: outcome.status, groupName: targetName, channel, message: text };
    },
  );
};
