import { type Static, Type } from '@sinclair/typebox';
import { DateTime, NonBlank, Nullable, ObjectIdString } from '../lib/schemas.js';
import { BatchIds } from '../lib/batch.js';
import { ListWindowQuery } from '../lib/keyset.js';
import { RegionCode } from '../regions/schemas.js';
import { CATEGORIES, CATEGORY_LABELS, type Category } from './categories.js';
import { NOTICE_STATUSES } from './model.js';

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$', description: '已上传图片的 SHA-256' });
/** Phone numbers as notices print them (hotline, wanted contact). */
export const PHONE_PATTERN = '^[0-9][0-9 /\\-]{1,28}[0-9]$';
export const PHONE_HINT = '应为数字，可含空格、“-”或“/”，如 13800138000、0372-7221234、110';
const Phone = Type.String({ pattern: PHONE_PATTERN, description: `电话号码（${PHONE_HINT}）` });
// An enum (not a union of literals), so a wrong value is answered with the list of allowed ones.
const CategorySchema = Type.Unsafe<Category>({
  type: 'string',
  enum: [...CATEGORIES],
  description: CATEGORIES.map((c) => `${c}（${CATEGORY_LABELS[c]}）`).join('、'),
});

export const BODY_MAX_CHARS = 20_000;

const Wanted = Type.Object(
  {
    caseSummary: NonBlank(500, '简要案情'),
    suspectDescription: NonBlank(300, '嫌疑人特征'),
    reward: NonBlank(60, '悬赏'),
    contactName: NonBlank(20, '联系人'),
    contactPhone: Phone,
    deadline: Type.String({ format: 'date', description: '截止日期 YYYY-MM-DD' }),
    contactUserId: Type.Optional(Nullable(ObjectIdString)),
    incident: Type.Optional(
      Nullable(
        Type.Object(
          {
            lat: Type.Optional(Type.Number({ description: '纬度（度）' })),
            lng: Type.Optional(Type.Number({ description: '经度（度）' })),
            villageCode: Type.Optional(RegionCode),
          },
          { additionalProperties: false, description: '案发地点：经纬度，或从地区树中选的村（取其坐标）' },
        ),
      ),
    ),
    radiusKm: Type.Optional(Nullable(Type.Number({ description: '案发地点周边半径（公里，0–100）' }))),
  },
  { additionalProperties: false },
);

const contentFields = {
  category: CategorySchema,
  title: NonBlank(80, '标题'),
  body: NonBlank(BODY_MAX_CHARS, '正文：空行分段，**加粗**，“- ”或“1. ”开头为列表'),
  summary: Type.Optional(Nullable(Type.String({ maxLength: 300 }))),
  media: Type.Optional(
    Type.Array(
      Type.Object(
        { sha256: Sha256, caption: Type.Optional(Nullable(Type.String({ maxLength: 60 }))) },
        { additionalProperties: false },
      ),
      { maxItems: 9 },
    ),
  ),
  video: Type.Optional(
    Nullable(
      Type.Object(
        { url: Type.String({ pattern: '^https?://\\S+$', maxLength: 500 }), posterSha256: Sha256 },
        { additionalProperties: false },
      ),
    ),
  ),
  issuingUnit: NonBlank(60, '发布单位'),
  hotline: Type.Optional(Phone),
  validFrom: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
  validUntil: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
  tags: Type.Optional(Type.Array(NonBlank(20), { maxItems: 10 })),
  wanted: Type.Optional(Nullable(Wanted)),
};

export const CreateNoticeBody = Type.Object(
  { ...contentFields, regionCode: Type.Optional(RegionCode) },
  { additionalProperties: false },
);
export type CreateNoticeBody = Static<typeof CreateNoticeBody>;

export const UpdateNoticeBody = Type.Partial(
  Type.Object({
    ...contentFields,
    regionCode: Type.Optional({
      ...RegionCode,
      description: '所属地区（发布单位的地区：本人管辖地区或其下级）；首次审核通过前可改',
    }),
  }),
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateNoticeBody = Static<typeof UpdateNoticeBody>;

export const ReviewBody = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);
export const RejectBody = Type.Object({ reason: NonBlank(500, '驳回理由') }, { additionalProperties: false });

/** 审核 通过/驳回 several notices of the review queue at once (issue 21.7). */
export const ReviewBatchBody = Type.Object(
  {
    ids: BatchIds(100, '待审核通告的 ID（最多 100 个）'),
    decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')], { description: 'approve 通过、reject 驳回' }),
    note: Type.Optional(Type.String({ maxLength: 500, description: '审核意见（通过时可填）' })),
    reason: Type.Optional(Type.String({ maxLength: 500, description: '驳回理由（驳回时必填，每条通告相同）' })),
  },
  { additionalProperties: false },
);

export const NoticeListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(NOTICE_STATUSES.map((s) => Type.Literal(s)))),
    category: Type.Optional(CategorySchema),
    /** Only notices with an approved version (what campaigns can send). */
    approved: Type.Optional(Type.Boolean()),
    ...ListWindowQuery,
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  },
  { additionalProperties: false },
);

export const VersionParams = Type.Object(
  { id: ObjectIdString, version: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);

/** A wanted notice's fields as stored: the incident resolved to coordinates (a picked village kept by code). */
const WantedReply = Type.Object({
  caseSummary: Type.String(),
  suspectDescription: Type.String(),
  reward: Type.String(),
  contactName: Type.String(),
  contactPhone: Type.String(),
  deadline: Type.String({ description: '截止日期 YYYY-MM-DD' }),
  contactUserId: Type.Optional(Nullable(Type.String())),
  incident: Type.Optional(
    Nullable(Type.Object({ lat: Type.Number(), lng: Type.Number(), villageCode: Type.Optional(Nullable(Type.String())) })),
  ),
  radiusKm: Type.Optional(Nullable(Type.Number())),
});

const ContentBody = Type.Object({
  category: CategorySchema,
  title: Type.String(),
  body: Type.String(),
  summary: Nullable(Type.String()),
  media: Type.Array(Type.Object({ sha256: Type.String(), caption: Nullable(Type.String()) })),
  video: Nullable(Type.Object({ url: Type.String(), posterSha256: Type.String() })),
  issuingUnit: Type.String(),
  hotline: Type.String(),
  validFrom: Nullable(DateTime),
  validUntil: Nullable(DateTime),
  tags: Type.Array(Type.String()),
  wanted: Nullable(WantedReply),
});

export const NoticeBody = Type.Object({
  id: Type.String(),
  regionCode: Type.String(),
  status: Type.Union(NOTICE_STATUSES.map((s) => Type.Literal(s))),
  version: Type.Integer(),
  approvedVersion: Nullable(Type.Integer()),
  authorId: Type.String(),
  editorIds: Type.Array(Type.String()),
  submittedBy: Nullable(Type.String()),
  reviewNote: Nullable(Type.String()),
  content: ContentBody,
  versions: Type.Array(Type.Object({ version: Type.Integer(), approvedBy: Type.String(), approvedAt: DateTime })),
  createdAt: DateTime,
  updatedAt: DateTime,
});

export const NoticeSummaryBody = Type.Omit(NoticeBody, ['content', 'versions', 'editorIds']);
export const NoticeListItem = Type.Composite([
  NoticeSummaryBody,
  Type.Object({
    title: Type.String(),
    category: CategorySchema,
    /** Set once the notice was withdrawn (停止并撤回): the list shows 已撤回 whatever its status. */
    retractedAt: Nullable(DateTime),
    authorName: Type.Optional(Type.String()),
  }),
]);

export const NoticeVersionBody = Type.Object({
  noticeId: Type.String(),
  version: Type.Integer(),
  regionCode: Type.String(),
  content: ContentBody,
  approvedBy: Type.String(),
  approvedAt: DateTime,
});

export const PersonalDataBody = Type.Object({
  findings: Type.Array(
    Type.Object({
      kind: Type.Union([Type.Literal('resident_id'), Type.Literal('phone')]),
      field: Type.String(),
      masked: Type.String(),
      key: Type.String(),
      confirmed: Type.Boolean(),
    }),
  ),
});

export const ConfirmPersonalDataBody = Type.Object(
  { keys: Type.Array(Type.String({ pattern: '^[0-9a-f]{16}$' }), { minItems: 1, maxItems: 100 }) },
  { additionalProperties: false },
);
