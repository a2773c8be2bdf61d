import { Type } from '@sinclair/typebox';
import { NonBlank, Nullable, ObjectIdString } from '../lib/schemas.js';

// The channel kinds (channels/kinds.ts) are passed in by routes.ts: render sits below channels.
const channelSchema = (names: readonly string[]) =>
  Type.Union(
    names.map((name) => Type.Literal(name)),
    { default: 'wecom' },
  );
const CardStyle = Type.Union([Type.Literal('text'), Type.Literal('rich'), Type.Literal('image')]);
/** "working" = the current working copy (drafts, review); a number = an approved version. */
const Version = Type.Union([Type.Literal('working'), Type.Integer({ minimum: 1 })], { default: 'working' });

const Personal = Type.Object(
  {
    villageName: NonBlank(40, '村/社区名称'),
    townshipName: Type.Optional(Nullable(Type.String({ maxLength: 40 }))),
    officerName: Type.Optional(Nullable(Type.String({ maxLength: 20 }))),
    officerPhone: Type.Optional(Nullable(Type.String({ pattern: '^[0-9][0-9 \\-]{1,28}[0-9]$' }))),
  },
  { additionalProperties: false },
);

export const textPreviewBody = (channels: readonly string[]) =>
  Type.Object(
    {
      /** A format of the author's choosing; with cardStyle instead, the format the channel is sent. */
      format: Type.Optional(Type.Union([Type.Literal('text'), Type.Literal('markdown'), Type.Literal('link')])),
      cardStyle: Type.Optional(CardStyle),
      channel: Type.Optional(channelSchema(channels)),
      version: Type.Optional(Version),
      /** WeCom text limit of this install's robots (2048 by default, at most 4096). */
      wecomTextMaxBytes: Type.Optional(Type.Integer({ minimum: 256, maximum: 4096 })),
      personal: Type.Optional(Nullable(Personal)),
      /** Preview for this group: its place, officer and county's officer-text setting (instead of `personal`). */
      groupId: Type.Optional(ObjectIdString),
    },
    { additionalProperties: false },
  );

export const imagePreviewBody = (channels: readonly string[]) =>
  Type.Object(
    {
      format: Type.Optional(Type.Union([Type.Literal('png'), Type.Literal('jpeg')], { default: 'png' })),
      channel: Type.Optional(channelSchema(channels)),
      version: Type.Optional(Version),
      personal: Type.Optional(Nullable(Personal)),
      /** Preview for this group: its place and officer in the personalised strip (instead of `personal`). */
      groupId: Type.Optional(ObjectIdString),
    },
    { additionalProperties: false },
  );

export const TextCardBody = Type.Object({
  format: Type.String(),
  channel: Type.String(),
  maxBytes: Type.Integer({ description: '该渠道的上限：measuredOn=body 时为整个请求体，否则为正文' }),
  measuredOn: Type.Union([Type.Literal('body'), Type.Literal('content')]),
  bodyBytes: Type.Integer({ description: '机器人实际收到的请求体字节数（无关键词、带签名；人工转发为正文字节数）' }),
  body: Type.Optional(
    Type.String({ description: '机器人实际收到的请求体（无关键词；飞书的签名用预览时间）；人工转发为民警转发的文字' }),
  ),
  title: Type.String(),
  content: Type.String(),
  bytes: Type.Integer(),
  truncated: Type.Boolean(),
  url: Type.String(),
  pictureUrl: Nullable(Type.String()),
});
