// The residents' pages as plain server-side HTML: no script at all and no inline style (the
// stylesheet is a file of its own), so the strictest CSP (`default-src 'none'; style-src
// 'self'; img-src 'self'; form-action 'self'`) holds. Everything from a notice is escaped.
import type { CaseOutcome } from '../notices/service.js';
import type { ApprovedNotice } from '../notices/service.js';
import { CATEGORY_LABELS } from '../notices/categories.js';
import { chineseDate, phoneNumber } from '../render/format.js';
import { calendarDate } from '../render/from-notice.js';
import { bodyToHtml } from '../render/markup.js';
import { typesetSpans, typesetText } from '../render/typeset/html.js';

export const STYLESHEET_PATH = '/n/assets/page.css';

export const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * Escaped text set as the cards are (a browser breaks Chinese between any two characters:
 * 商 / 铺, 5000 / 元, and leaves 件。 alone on a last line): the card breaker's pieces each kept
 * on one line, and the last three characters or more joined (`.w`, white-space: nowrap in
 * page.css; typeset/html.ts).
 */
export function phrased(text: string): string {
  return typesetText(text);
}

export function layout(title: string, body: string): string {
  return (
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title>` +
    `<link rel="stylesheet" href="${STYLESHEET_PATH}"></head><body><main>${body}</main></body></html>`
  );
}

/** Who published it and how a resident can check that it is genuine. */
function honestFooter(issuingUnit: string | null): string {
  const who = issuingUnit ? `${phrased('本页由')}<strong>${phrased(issuingUnit)}</strong>${phrased('发布。')}` : '';
  return (
    '<footer class="verify">' +
    `<p>${who}${phrased('对内容有疑问，可拨打')} <a href="tel:110">110</a> ${phrased('或反诈专线')} ` +
    '<span class="w"><a href="tel:96110">96110</a> 核实。</span></p>' +
    `<p>${phrased('公安机关不会通过链接、电话或短信要求您转账汇款、提供银行卡密码或验证码。')}</p>` +
    '</footer>'
  );
}

/** The masthead: the mark area, the issuing unit, the category and the date. */
function masthead(issuingUnit: string, category: string, date: string | null): string {
  return (
    '<header class="masthead"><span class="mark" aria-hidden="true">警</span><div>' +
    `<p class="unit">${escapeHtml(issuingUnit)}</p>` +
    `<p class="sub"><span class="label">${escapeHtml(category)}</span>${date ? `<time>${escapeHtml(date)}</time>` : ''}</p>` +
    '</div></header>'
  );
}

export function missingPage(what: string): string {
  return layout('页面不存在', `<h1>页面不存在</h1><p>${phrased(what)}</p>${honestFooter(null)}`);
}

/** The body through the one light-markup parser the cards use (paragraphs, **bold**, lists). */
export function bodyHtml(body: string): string {
  return bodyToHtml(body, typesetSpans);
}

const telHref = (phone: string) => `tel:${phone.replace(/[^0-9+]/g, '')}`;

const OUTCOME_TEXT: Record<CaseOutcome['kind'], string> = {
  caught: '嫌疑人已抓获。感谢广大群众的关心和支持！',
  solved: '案件已侦破。感谢广大群众的关心和支持！',
  expired: '本协查通告已到期。感谢广大群众的关心和支持！',
};

export function outcomeText(kind: CaseOutcome['kind']): string {
  return OUTCOME_TEXT[kind];
}

export interface WithdrawnView {
  /** The case outcome whose follow-up went out, if any. */
  announced: CaseOutcome | null;
  wanted: boolean;
  /** Who had published it (kept: a resident should know whose notice was withdrawn). */
  issuingUnit: string | null;
  /** The follow-up notice's page, when one went out. */
  followUpNoticeId: string | null;
}

/** A withdrawn notice: that it was withdrawn, the follow-up if one went out, nothing else of it (issue 15, finding 5). */
export function withdrawnPage(view: WithdrawnView): string {
  const { announced } = view;
  const heading = announced ? (announced.kind === 'expired' ? '协查通告已到期' : '案件已告破') : '此通知已撤回';
  const body = announced
    ? `<p class="withdrawn">${phrased(OUTCOME_TEXT[announced.kind])}</p><p>${phrased('原通告的内容和照片已不再公开。')}</p>`
    : `<p class="withdrawn">${phrased('发布单位已撤回这条通知，其内容不再公开，请不要再转发。')}</p>`;
  const followUp = view.followUpNoticeId
    ? `<p><a class="call" href="/n/${escapeHtml(view.followUpNoticeId)}">查看后续通报</a></p>`
    : '';
  const form = view.wanted ? `<p class="notice">${phrased('线索征集已结束，不再接收线索。')}</p>` : '';
  return layout(
    '通知已撤回',
    (view.issuingUnit ? masthead(view.issuingUnit, announced ? '后续通报' : '已撤回', null) : '') +
      `<h1>${heading}</h1>${body}${followUp}${form}${honestFooter(view.issuingUnit)}`,
  );
}

export interface TipFormView {
  noticeId: string;
  state: 'open' | 'closed_deadline';
  values?: { text?: string; phone?: string };
  error?: string | null;
  received?: boolean;
  /** The question the form must answer while the notice is at its tip cap (tips/challenge.ts). */
  challenge?: { question: string; token: string } | null;
}

function tipForm(view: TipFormView): string {
  if (view.state === 'closed_deadline') {
    return `<h2>提供线索</h2><p class="notice">${phrased('协查通告已过截止日期，线索征集已结束。如有紧急情况请拨打 110。')}</p>`;
  }
  if (view.received) {
    return `<h2>提供线索</h2><p class="notice">${phrased('您的线索已收到，感谢您的支持！办案民警会尽快核实。')}</p>`;
  }
  const error = view.error ? `<p class="error" role="alert">${phrased(view.error)}</p>` : '';
  return (
    `<h2 id="tip">提供线索</h2>${error}` +
    `<form method="post" action="/n/${escapeHtml(view.noticeId)}/tips" enctype="multipart/form-data">` +
    `<label for="text">线索内容<span class="hint">${phrased('时间、地点、看到的情况，越具体越好（最多 2000 字）')}</span></label>` +
    `<textarea id="text" name="text" required maxlength="2000">${escapeHtml(view.values?.text ?? '')}</textarea>` +
    `<label for="phone">联系电话（选填）<span class="hint">${phrased('方便民警回访；不填也可以')}</span></label>` +
    `<input id="phone" name="phone" type="tel" maxlength="20" autocomplete="tel" value="${escapeHtml(view.values?.phone ?? '')}">` +
    // The native file input is hidden behind a Chinese button (its own "Choose File / No file
    // chosen" text is the browser's language, not the page's); the label opens the picker.
    `<p class="field">照片（选填，一张）<span class="hint">${phrased('可拍照或从相册选择，JPEG/PNG，最大 10 MB')}</span></p>` +
    '<input id="photo" class="file" name="photo" type="file" accept="image/jpeg,image/png,image/webp">' +
    '<label for="photo" class="picker">选择照片</label>' +
    challengeField(view.challenge) +
    `<p class="meta">${phrased('我们不记录您的 IP 地址和设备信息，只保存您填写的内容。')}</p>` +
    '<button type="submit">提交线索</button></form>'
  );
}

/** An arithmetic question in Chinese numerals, answered in digits; no script needed. */
function challengeField(challenge: TipFormView['challenge']): string {
  if (!challenge) return '';
  return (
    `<label for="answer">请先回答：${escapeHtml(challenge.question)}<span class="hint">${phrased('现在提交线索的人较多，请填写数字答案，例如 25')}</span></label>` +
    '<input id="answer" name="answer" type="text" inputmode="numeric" maxlength="6" required autocomplete="off">' +
    `<input type="hidden" name="challenge" value="${escapeHtml(challenge.token)}">`
  );
}

export function noticePage(notice: ApprovedNotice, tip: TipFormView | null, timeZone = 'Asia/Shanghai'): string {
  const { content } = notice;
  const label = CATEGORY_LABELS[content.category] ?? '';
  const date = chineseDate(calendarDate(notice.approvedAt, timeZone));
  const picture = content.media[0] ?? (content.video ? { sha256: content.video.posterSha256, caption: null } : null);
  const photo = picture
    ? `<img class="photo" src="/media/${picture.sha256}" alt="${escapeHtml(picture.caption ?? content.title)}">`
    : '';
  const wanted = content.wanted;
  const facts = wanted
    ? '<dl class="facts">' +
      `<dt>悬赏</dt><dd class="strong">${phrased(wanted.reward)}</dd>` +
      `<dt>截止日期</dt><dd class="strong">${escapeHtml(chineseDate(wanted.deadline))}</dd>` +
      `<dt>简要案情</dt><dd>${phrased(wanted.caseSummary)}</dd>` +
      `<dt>嫌疑人特征</dt><dd>${phrased(wanted.suspectDescription)}</dd>` +
      `<dt>联系人</dt><dd>${escapeHtml(wanted.contactName)} <a href="${telHref(wanted.contactPhone)}">${escapeHtml(phoneNumber(wanted.contactPhone))}</a></dd></dl>`
    : '';
  const hotline = content.hotline
    .split(/[\s/／、,，]+/)
    .filter((n) => /\d{3,}/.test(n))
    .map((n) => `<a class="call" href="${telHref(n)}">拨打 ${escapeHtml(phoneNumber(n))}</a>`)
    .join('');
  return layout(
    content.title,
    masthead(content.issuingUnit, label, date) +
      `<article><h1>${phrased(content.title)}</h1>${photo}${facts}<div class="body">${bodyHtml(content.body)}</div></article>` +
      `<div class="calls">${hotline}</div>` +
      (tip ? tipForm(tip) : '') +
      honestFooter(content.issuingUnit),
  );
}

/** The answer to a posted tip when the notice page cannot be shown (withdrawn, too many). */
export function tipAnswerPage(title: string, message: string): string {
  return layout(title, `<h1>${phrased(title)}</h1><p>${phrased(message)}</p>${honestFooter(null)}`);
}
