// WeCom customer-group work written straight into its collections, as a run of the past (or an
// install from before the live list) left it: one owner's task of a run and one group's item,
// in the county 440106. Tests of the loop's reads (what it reads with history beside it).
import { WecomItemModel, WecomTaskModel } from '../../src/channels/wecom-group/model.js';

/** The task of run `<campaign>@<n>` for the owner, in `state` (more fields: `extra`). */
export function wecomTask(campaign: string, n: number, state: string, at: Date, extra: Record<string, unknown> = {}) {
  return WecomTaskModel.create({
    _id: `${campaign}@${n}|440106|owner|1`,
    occurrenceId: `${campaign}@${n}`,
    campaignId: campaign,
    countyCode: '440106',
    ownerUserId: 'owner',
    state,
    createdAt: at,
    ...extra,
  });
}

/** The item of group `g` in run `<campaign>@<n>`, in `state`. */
export function wecomItem(campaign: string, n: number, state: string, at: Date) {
  return WecomItemModel.create({
    _id: `${campaign}@${n}/g`,
    occurrenceId: `${campaign}@${n}`,
    campaignId: campaign,
    countyCode: '440106',
    ownerUserId: 'owner',
    chatId: 'chat',
    groupId: 'g',
    groupName: '群',
    regionPath: [],
    period: '2026-06',
    state,
    createdAt: at,
  });
}
