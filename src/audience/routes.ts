import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuditService } from '../audit/service.js';
import { ADMINS, ANY_ROLE, STAFF } from '../auth/roles.js';
import type { ChannelRegistry } from '../channels/registry.js';
import { allow, principal } from '../http/access.js';
import type { Clock } from '../lib/clock.js';
import { BatchResults, runBatch } from '../lib/batch.js';
import { InvalidInput } from '../lib/errors.js';
import { IdParams } from '../lib/schemas.js';
import { CHANNEL_LABELS } from '../channels/credentials.js';
import type { GroupService } from './groups.js';
import {
  AudienceSpecBody,
  AudienceTotalsBody,
  CreateGroupBody,
  GroupBatchBody,
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
      config: allow(STAFF),
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
      config: allow(STAFF, 'group'),
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
    '/api/groups/batch',
    {
      config: allow(ADMINS),
      schema: {
        tags: ['groups'],
        summary: '批量操作群：停用、启用、改负责民警、打标签（逐个执行、逐个记录审计，返回每个群的结果）',
        body: GroupBatchBody,
        response: { 200: BatchResults },
      },
    },
    async (request) => {
      const by = principal(request);
      const { ids, action, officer, tags } = request.body;
      if (action === 'officer' && officer === undefined) throw new InvalidInput('改负责民警需要填写 officer（姓名、电话），清空为 null', 'officer');
      if (action === 'tag' && !tags) throw new InvalidInput('打标签需要填写 tags', 'tags');
      return runBatch(ids, async (id) => {
        let changes: Parameters<GroupService['update']>[2];
        if (action === 'deactivate' || action === 'activate') changes = { active: action === 'activate' };
        else if (action === 'officer') changes = { officer: officer ?? null };
        else {
          const current = await groups.get(by.scope, id);
          changes = { tags: [...new Set([...current.tags, ...(tags ?? [])])] };
        }
        const { group } = await groups.update(by.scope, id, changes);
        await audit.record({
          actor: by,
          action: 'group.update',
          target: { kind: 'group', id: group.id },
          ip: request.ip,
          details: { changed: Object.keys(changes), batch: action },
        });
        return group.name;
      });
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
