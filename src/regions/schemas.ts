import { type Static, Type } from '@sinclair/typebox';
import { NonBlank, Nullable } from '../lib/schemas.js';
import { REGION_LEVELS } from './levels.js';

export const RegionCode = Type.String({ pattern: '^[0-9]{6,12}$', description: '行政区划代码（6/9/12 位数字）' });

export const RegionBody = Type.Object({
  code: Type.String(),
  name: Type.String(),
  level: Type.Union(REGION_LEVELS.map((level) => Type.Literal(level))),
  parentCode: Nullable(Type.String()),
  regionPath: Type.Array(Type.String(), { description: '从根到本地区的代码' }),
  lat: Nullable(Type.Number()),
  lng: Nullable(Type.Number()),
});

export const RegionParams = Type.Object({ code: RegionCode }, { additionalProperties: false });

export const RegionListQuery = Type.Object(
  {
    parent: Type.Optional(RegionCode),
    level: Type.Optional(Type.Union(REGION_LEVELS.map((level) => Type.Literal(level)))),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 5000, description: '与 level 一起：每页最多几个（不填时超过 5000 个会被拒绝）' }),
    ),
    after: Type.Optional(RegionCode),
  },
  { additionalProperties: false },
);

const Latitude = Type.Number({ minimum: -90, maximum: 90 });
const Longitude = Type.Number({ minimum: -180, maximum: 180 });

export const CreateRegionBody = Type.Object(
  {
    code: RegionCode,
    name: NonBlank(64, '地区名称'),
    parentCode: RegionCode,
    lat: Type.Optional(Nullable(Latitude)),
    lng: Type.Optional(Nullable(Longitude)),
  },
  { additionalProperties: false },
);
export type CreateRegionBody = Static<typeof CreateRegionBody>;

export const UpdateRegionBody = Type.Object(
  {
    name: Type.Optional(NonBlank(64, '地区名称')),
    lat: Type.Optional(Nullable(Latitude)),
    lng: Type.Optional(Nullable(Longitude)),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const CountyCode = Type.String({ pattern: '^[0-9]{6}$', description: '县级行政区划代码（6 位，如 410527）' });

export const CountySearchQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 40, description: '县区名称的一部分（如“内黄”）或代码开头' })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  },
  { additionalProperties: false },
);

const DivisionBody = Type.Object({ code: Type.String(), name: Type.String() });

export const CountyEntryBody = Type.Object({
  code: Type.String(),
  name: Type.String(),
  fullName: Type.String({ description: '省市县全称，如 河南省安阳市内黄县' }),
  city: DivisionBody,
  province: DivisionBody,
  seeded: Type.Boolean({ description: '本系统中已有该县' }),
});

export const SeedCountyBody = Type.Object({ countyCode: CountyCode }, { additionalProperties: false });

export const SeedReportBody = Type.Object({
  county: Type.Object({ code: Type.String(), name: Type.String(), fullName: Type.String() }),
  townships: Type.Integer(),
  villages: Type.Integer(),
  created: Type.Integer({ description: '新建的地区数' }),
  kept: Type.Integer({ description: '已存在、原样保留的地区数（本地修改不被覆盖）' }),
  renamedLocally: Type.Array(Type.Object({ code: Type.String(), listed: Type.String(), local: Type.String() })),
});
