import { Type } from '@sinclair/typebox';
import { DateTime, Nullable } from '../lib/schemas.js';

const Outcome = Type.Union([Type.Literal('expired'), Type.Literal('caught'), Type.Literal('solved')]);

export const CaseBody = Type.Object({
  noticeId: Type.String(),
  title: Type.String(),
  deadline: Type.String(),
  deadlinePassed: Type.Boolean(),
  withdrawn: Type.Boolean(),
  outcomes: Type.Array(
    Type.Object({
      kind: Outcome,
      at: DateTime,
      by: Type.String(),
      note: Nullable(Type.String()),
      followUpNoticeId: Nullable(Type.String()),
      followUpCampaignId: Nullable(Type.String()),
      followUpStatus: Nullable(Type.String()),
      followUpAwaitingOfficers: Type.Integer({ description: '结案通告尚待民警转发的群数（待转发）' }),
    }),
  ),
  newTips: Type.Integer(),
  reached: Type.Object(
    { groupCount: Type.Integer(), villageCount: Type.Integer() },
    { description: '原通告经任何推送触达的群数和村数（结案/过期通告的受众）' },
  ),
  attention: Type.Array(
    Type.Union([Type.Literal('deadline_passed'), Type.Literal('follow_up_in_review'), Type.Literal('new_tips')]),
  ),
});

export const CaseListBody = Type.Object({
  badge: Type.Integer({ description: '需要处理的案件数（过期、结案通告待审核、有新线索）' }),
  cases: Type.Array(CaseBody),
});

export const SolveBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('caught'), Type.Literal('solved')], { description: 'caught 已抓获，solved 已破案' }),
    note: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
  },
  { additionalProperties: false },
);
