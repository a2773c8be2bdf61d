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
