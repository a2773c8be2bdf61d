// What a WeCom customer group (企业微信客户群) needs to be reached: its county's WeCom app
// (the corp id and sealed secret live once per county, see app.ts), the group's chat_id and
// its owner's userid (only the owner can be the sender of a group task, ref §3). Groups of
// this channel are made by the sync from WeCom, never typed in.
import { InvalidInput } from '../../lib/errors.js';
import type { FieldName } from '../credential-input.js';

export interface WecomGroupCredentials {
  kind: 'wecom_group';
  /** The county whose WeCom app owns the group. */
  countyCode: string;
  chatId: string;
  ownerUserId: string;
}

export function parseWecomGroupInput(f: FieldName): never {
  throw new InvalidInput('企业微信客户群由“同步企业微信客户群”创建，不能手工填写或导入', f('kind'));
}
