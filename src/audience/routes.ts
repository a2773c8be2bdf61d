import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuditService } from '../audit/service.js';
import { ADMINS, ANY_ROLE } from '../auth/roles.js';
import type { ChannelRegistry } from '../channels/registry.js';
import { allow, principal } from '../http/access.js';
import type { Clock } from '../lib/clock.js';
import { IdParams } from '../lib/schemas.js';
import { CHANNEL_LABELS } from './channel-credentials.js';
import type { GroupService } from './groups.js';
import {
  AudienceSpecBody,
  AudienceTotalsBody,
  CreateGroupBody,
  GroupBody,
  GroupListQuery,
  TestMessageResult,
  UpdateGroupBody,
} from './schemas.js';
import type { AudienceService } from './selection.js';

export interface AudienceRoutesOptions {
  groups: GroupService;
  audience: AudienceService;
  channels: ChannelRegistry;
  audit: AuditService;
  clock: Clock;
}

export const audienceRoutes: FastifyPluginAsyncTypebox<AudienceRoutesOptions> = async (
  app,
  { groups, audience, channels, audit, clock },
) => {
  app.get(
    '/api/groups',
    {
      config: allow(ANY_ROLE),
      schema: {
        tags: ['groups'],
        summary: '列出管辖范围内的群',
        querystring: GroupListQuery,
        response: { 200: Type.Array(GroupBody) },
      },
    },
    async (request) => groups.list(principal(request).scope, request.query),
  );

  app.get(
    '/api/groups/:id',
    {
      config: allow(ANY_ROLE, 'group'),
      schema: { tags: ['groups'], summary: '群详情（不含凭据）', params: IdParams, response: { 200: GroupBody } },
    },
    async (request) => groups.get(principal(request).scope, request.params.id),
  );

  app.post(
    '/api/groups',
    {
      config: allow(ADMINS),
      schema: {
        tags: ['groups'],
        summary: '新建群（凭据只写不读）',
        body: CreateGroupBody,
        response: { 201: GroupBody },
      },
    },
    async (request, reply) => {
      const by = principal(request);
      const group = await groups.create(by.scope, request.body);
      await audit.record({
        actor: by,
        action: 'group.create',
        target: { kind: 'group', id: group.id },
        ip: request.ip,
        details: { name: group.name, regionCode: group.regionCode, channelKind: group.channelKind },
      });
      return reply.status(201).send(group);
    },
  );

  app.patch(
    '/api/groups/:id',
    {
      config: allow(ADMINS, 'group'),
      schema: {
        tags: ['groups'],
        summary: '修改群（含更换凭据）',
        params: IdParams,
        body: UpdateGroupBody,
        response: { 200: GroupBody },
      },
    },
    async (request) => {
      const by = principal(request);
      const { group, credentialsChanged } = await groups.update(by.scope, request.params.id, request.body);
      await audit.record({
        actor: by,
        action: credentialsChanged ? 'group.channel.change' : 'group.update',
        target: { kind: 'group', id: group.id },
        ip: request.ip,
        details: { changed: Object.keys(request.body), channelKind: group.channelKind },
      });
      return group;
    },
  );

  app.post(
    '/api/groups/:id/test-message',
    {
      config: allow(ADMINS, 'group'),
      schema: {
        tags: ['groups'],
        summary: '向群发送一条测试消息，检查通道是否可用',
        params: IdParams,
        response: { 200: TestMessageResult },
      },
    },
    async (request) => {
      const by = principal(request);
      const group = await groups.get(by.scope, request.params.id);
      const [target] = await audience.sendTargets([group.id]);
      const at = clock.now().toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
      const outcome = await channels.adapterFor(group.channelKind).send(target!, {
        type: 'text',
        card: {
          format: 'text',
          title: '警讯测试消息',
          content: `【警讯】测试消息：${group.name}的${CHANNEL_LABELS[group.channelKind]}通道已连通（${at}）。`,
          url: '',
          pictureUrl: null,
        },
      });
      if (outcome.status === 'sent' && group.flagged) await groups.update(by.scope, group.id, { clearFlag: true });
      await audit.record({
        actor: by,
        action: 'group.test-message',
        target: { kind: 'group', id: group.id },
        ip: request.ip,
        details: { outcome: outcome.status, code: 'code' in outcome ? outcome.code : null },
      });
      if (outcome.status === 'sent') return { status: 'sent' as const, message: '测试消息已发送' };
      return { status: outcome.status, code: outcome.code, message: outcome.message };
    },
  );

  app.post(
    '/api/audience/preview',
    {
      config: allow(ANY_ROLE),
      schema: {
        tags: ['audience'],
        summary: '受众选择：地区 ∪ 标签 ∪ 指定群 ∪ 距离范围 − 排除项，返回群数、村数、成员数、按渠道统计与人工任务数',
        body: AudienceSpecBody,
        response: { 200: AudienceTotalsBody },
      },
    },
    async (request) => audience.totals(principal(request).scope, request.body),
  );
};
