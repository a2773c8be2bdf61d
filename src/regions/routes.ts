import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ADMINS, ANY_ROLE } from '../auth/roles.js';
import { allow, principal } from '../http/access.js';
import type { AuditService } from '../audit/service.js';
import type { RegionService } from './service.js';
import {
  CountyEntryBody,
  CountySearchQuery,
  CreateRegionBody,
  RegionBody,
  RegionListQuery,
  RegionParams,
  SeedCountyBody,
  SeedReportBody,
  UpdateRegionBody,
} from './schemas.js';
import { DIVISION_LIST_EDITION, searchCounties } from './divisions.js';
import { seedCounty } from './seed.js';

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
      const { parent, level, limit, after } = request.query;
      if (level) return regions.subtree(scope, parent ?? scope.regionCode, level, { limit, after });
      if (parent) return regions.children(scope, parent);
      return [await regions.get(scope, scope.regionCode)];
    },
  );

  app.get(
    '/api/regions/counties',
    {
      config: allow(ADMINS),
      schema: {
        tags: ['regions'],
        summary: `搜索全国县区（${DIVISION_LIST_EDITION}），用于选择本县并导入其乡镇、村`,
        querystring: CountySearchQuery,
        response: { 200: Type.Array(CountyEntryBody) },
      },
    },
    async (request) => {
      const { scope } = principal(request);
      const found = searchCounties(request.query.q ?? '', request.query.limit);
      const seeded = await regions.existingIn(
        scope,
        found.map((c) => c.code),
      );
      return found.map((county) => ({ ...county, seeded: seeded.has(county.code) }));
    },
  );

  app.post(
    '/api/regions/seed',
    {
      config: allow(ADMINS),
      schema: {
        tags: ['regions'],
        summary: '按全国区划名单导入一个县（省、市、县、乡镇、村）；已有的地区原样保留，可重复执行',
        body: SeedCountyBody,
        response: { 200: SeedReportBody },
      },
    },
    async (request) => {
      const by = principal(request);
      const report = await seedCounty(by.scope, request.body.countyCode);
      await audit.record({
        actor: by,
        action: 'region.seed',
        target: { kind: 'region', id: report.county.code },
        ip: request.ip,
        details: { created: report.created, kept: report.kept, edition: DIVISION_LIST_EDITION },
      });
      return report;
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
