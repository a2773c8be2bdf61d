import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ADMINS, ANY_ROLE } from '../auth/roles.js';
import { allow, principal } from '../http/access.js';
import type { AuditService } from '../audit/service.js';
import type { RegionService } from './service.js';
import { CreateRegionBody, RegionBody, RegionListQuery, RegionParams, UpdateRegionBody } from './schemas.js';

export interface RegionRoutesOptions {
  regions: RegionService;
  audit: AuditService;
}

export const regionRoutes: FastifyPluginAsyncTypebox<RegionRoutesOptions> = async (app, { regions, audit }) => {
  app.get(
    '/api/regions',
    {
      config: allow(ANY_ROLE),
      schema: {
        tags: ['regions'],
        summary: '列出下级地区（默认：本人管辖地区本身）',
        querystring: RegionListQuery,
        response: { 200: Type.Array(RegionBody) },
      },
    },
    async (request) => {
      const { scope } = principal(request);
      const { parent, level } = request.query;
      if (level) return regions.subtree(scope, parent ?? scope.regionCode, level);
      if (parent) return regions.children(scope, parent);
      return [await regions.get(scope, scope.regionCode)];
    },
  );

  app.get(
    '/api/regions/:code',
    {
      config: allow(ANY_ROLE, 'region'),
      schema: { tags: ['regions'], summary: '地区详情', params: RegionParams, response: { 200: RegionBody } },
    },
    async (request) => regions.get(principal(request).scope, request.params.code),
  );

  app.post(
    '/api/regions',
    {
      config: allow(ADMINS),
      schema: { tags: ['regions'], summary: '新建地区', body: CreateRegionBody, response: { 201: RegionBody } },
    },
    async (request, reply) => {
      const by = principal(request);
      const region = await regions.create(by.scope, request.body);
      await audit.record({
        actor: by,
        action: 'region.create',
        target: { kind: 'region', id: region.code },
        ip: request.ip,
        details: { name: region.name },
      });
      return reply.status(201).send(region);
    },
  );

  app.patch(
    '/api/regions/:code',
    {
      config: allow(ADMINS, 'region'),
      schema: {
        tags: ['regions'],
        summary: '修改地区名称或坐标',
        params: RegionParams,
        body: UpdateRegionBody,
        response: { 200: RegionBody },
      },
    },
    async (request) => {
      const by = principal(request);
      const region = await regions.update(by.scope, request.params.code, request.body);
      await audit.record({
        actor: by,
        action: 'region.update',
        target: { kind: 'region', id: region.code },
        ip: request.ip,
        details: { changed: Object.keys(request.body) },
      });
      return region;
    },
  );
};
