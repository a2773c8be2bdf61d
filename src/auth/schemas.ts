import { type Static, Type } from '@sinclair/typebox';
import { ListWindowQuery } from '../lib/keyset.js';
import { DateTime, NonBlank, Nullable, ObjectIdString } from '../lib/schemas.js';
import { ROLES } from './roles.js';

const RoleSchema = Type.Union(
  ROLES.map((role) => Type.Literal(role)),
  { description: '角色' },
);
const Password = Type.String({ minLength: 1, maxLength: 200 });
/** A password being set: users.ts's MIN_PASSWORD_LENGTH, stated in the schema too. */
const NewPassword = Type.String({ minLength: 10, maxLength: 200, description: '新密码（至少 10 个字符）' });
const Phone = Type.String({ pattern: '^[0-9+\\- ]{3,20}$', description: '电话' });
const RegionCode = Type.String({ pattern: '^[0-9]{6,12}$' });

export const LoginBody = Type.Object(
  { username: NonBlank(64, '用户名'), password: Password },
  { additionalProperties: false },
);

export const UserBody = Type.Object({
  id: ObjectIdString,
  username: Type.String(),
  displayName: Type.String(),
  role: RoleSchema,
  regionCode: Type.String(),
  phone: Nullable(Type.String()),
  wecomUserId: Nullable(Type.String({ description: '企业微信账号（userid）：其客户群按此对应到本用户' })),
  active: Type.Boolean(),
  mustChangePassword: Type.Boolean({ description: '须先修改系统生成的初始密码' }),
  createdAt: DateTime,
});

export const LoginReply = Type.Object({
  token: Type.String({ description: '访问令牌：Authorization: Bearer <token>' }),
  expiresAt: DateTime,
  user: UserBody,
});

export const CreateUserBody = Type.Object(
  {
    username: Type.String({ minLength: 2, maxLength: 64, pattern: '^[A-Za-z0-9_.@-]+$', description: '登录名' }),
    displayName: NonBlank(64, '姓名'),
    password: NewPassword,
    role: RoleSchema,
    regionCode: RegionCode,
    phone: Type.Optional(Nullable(Phone)),
  },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

export const UpdateUserBody = Type.Object(
  {
    displayName: Type.Optional(NonBlank(64, '姓名')),
    role: Type.Optional(RoleSchema),
    regionCode: Type.Optional(RegionCode),
    phone: Type.Optional(Nullable(Phone)),
    active: Type.Optional(Type.Boolean()),
    password: Type.Optional(NewPassword),
    currentPassword: Type.Optional({ ...Password, description: '修改本人密码时必填：当前密码' }),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ChangePasswordBody = Type.Object(
  { currentPassword: Password, newPassword: NewPassword },
  { additionalProperties: false },
);

export const UserListQuery = Type.Object(
  {
    ...ListWindowQuery,
    q: Type.Optional(Type.String({ maxLength: 64, description: '登录名、姓名或电话包含的文字' })),
    sort: Type.Optional(Type.Union([Type.Literal('newest'), Type.Literal('oldest')], { description: '排序（按创建时间），默认旧的在前' })),
    role: Type.Optional(Type.Union(ROLES.map((r) => Type.Literal(r)))),
    active: Type.Optional(Type.Boolean()),
    regionCode: Type.Optional(Type.String({ pattern: '^[0-9]{6}([0-9]{3}){0,2}$', description: '管辖范围在此区划之内（含下级）' })),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  },
  { additionalProperties: false },
);
