// The text of a drafted follow-up: says how the case ended and repeats none of the original's
// details (the suspect may be innocent, or caught: either way their description and photo
// come down). The reviewer can send it back for the editor to reword.
import type { ApprovedNotice, CaseOutcome } from '../notices/service.js';

const HEADLINES: Record<CaseOutcome['kind'], string> = {
  caught: '【已抓获】协查通告结案',
  solved: '【已破案】协查通告结案',
  expired: '【已过期】协查通告到期',
};

export function followUpContent(original: ApprovedNotice, kind: CaseOutcome['kind'], issuedOn: string) {
  const { content } = original;
  const approvedOn = original.approvedAt.toISOString().slice(0, 10);
  const ending =
    kind === 'expired'
      ? `${content.issuingUnit}于 ${approvedOn} 发布的协查通告已于 ${content.wanted?.deadline ?? issuedOn} 到期，线索征集结束。`
      : `${content.issuingUnit}于 ${approvedOn} 发布的协查通告所涉案件${kind === 'caught' ? '嫌疑人已抓获归案' : '已侦破'}。`;
  return {
    category: 'general' as const,
    title: HEADLINES[kind],
    body:
      `${ending}\n\n原通告中的人员信息和照片不再公开，请勿继续转发原通告。` +
      // The number itself: a forwarded text has nothing "below" to point to.
      `\n\n感谢广大群众的关心和支持！${content.hotline?.trim() ? `如有其他情况，请拨打 ${content.hotline.trim()}。` : `如有其他情况，请与${content.issuingUnit}联系。`}`,
    issuingUnit: content.issuingUnit,
    hotline: content.hotline,
    regionCode: original.regionCode,
  };
}
