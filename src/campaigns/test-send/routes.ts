// A test send (试发): before submitting a campaign, its author posts the campaign's card —
// the notice's approved version in the chosen card style, personalised for the group — to
// one group they pick, through the group's real channel, and sees the outcome. Marked
// 【测试】 in the title so the group knows; audited; never counted as a delivery.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AudienceService } from '../../audience/selection.js';
import type { GroupService } from '../../audience/groups.js';
import type { AuditService } from '../../audit/service.js';
import { AUTHORS } from '../../auth/roles.js';
import type { ChannelRegistry } from '../../channels/registry.js';
import type { CountyOfficerTextService } from '../../channels/manual/county-text.js';
import { messageFor } from '../../channels/message.js';
import { allow, principal } from '../../http/access.js';
import { ObjectIdString } from '../../lib/schemas.js';
import { mediaUrl } from '../../media/routes.js';
import type { MediaStore } from '../../media/store.js';
import type { NoticeService } from '../../notices/service.js';
import { calendarDate, toCardNotice } from '../../render/from-notice.js';

const TEST_MARK = '【测试】';

export const TestSendBody = Type.Object(
  {
    noticeId: ObjectIdString,
    groupId: ObjectIdString,
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
  now: () => Date;
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
      const { noticeId, groupId } = request.body;
      const cardStyle = request.body.cardStyle ?? 'rich';
      const notice = await options.notices.getApprovedVersion(by.scope, noticeId);
      const group = await options.groups.get(by.scope, groupId);
      const [target] = await options.audience.sendTargets([group.id]);
      const channel = group.channelKind;
      const card = toCardNotice(
        { ...notice.content, title: `${TEST_MARK}${notice.content.title}` },
        calendarDate(options.now(), options.timeZone),
      );
      const personal = {
        villageName: target!.villageName,
        townshipName: target!.townshipName,
        officerName: target!.officer?.name ?? null,
        officerPhone: target!.officer?.phone ?? null,
      };
      // The preview's link: the notice's page (a test send is no campaign, so it has no tracked link).
      const link = `${options.publicBaseUrl}/n/${noticeId}`;
      const picture = notice.content.media[0]?.sha256 ?? notice.content.video?.posterSha256 ?? null;
      const file = cardStyle === 'image' && picture ? await options.media.read(picture) : null;
      const omitLinkInText = channel === 'manual' && (await options.countyTexts.withoutLink(target!.regionPath[3] ?? ''));
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
        .send(target!, message, { reference: `test-${noticeId}-${group.id}-${Date.now()}` });
      await options.audit.record({
        actor: by,
        action: 'campaign.test-send',
        target: { kind: 'group', id: group.id },
        ip: request.ip,
        details: { noticeId, cardStyle, outcome: outcome.status },
      });
      const text = outcome.status === 'sent' ? `已发送到「${group.name}」，请在群里查看` : outcome.message;
      return { status: outcome.status, groupName: group.name, channel, message: text };
    },
  );
};
