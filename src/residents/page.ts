// The residents' pages as plain server-side HTML: no script at all and no inline style (the
// stylesheet is a file of its own), so the strictest CSP (`default-src 'none'; style-src
// 'self'; img-src 'self'; form-action 'self'`) holds. Everything from a notice is escaped.
import type { CaseOutcome } from '../notices/service.js';
import type { ApprovedNotice } from '../notices/service.js';
import { CATEGORY_LABELS } from '../notices/categories.js';

export const STYLESHEET_PATH = '/n/assets/page.css';

export const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function layout(title: string, body: string): string {
  return (
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title>` +
    `<link rel="stylesheet" href="${STYLESHEET_PATH}"></head><body><main>${body}</main></body></html>`
  );
}

const EMERGENCY =
  '<p class="meta">如需报警请拨打 <a href="tel:110">110</a>，反诈咨询请拨打 <a href="tel:96110">96110</a>。</p>';

export function missingPage(what: string): string {
  return layout('页面不存在', `<h1>页面不存在</h1><p>${escapeHtml(what)}</p>${EMERGENCY}`);
}

/** Light markup of a notice body (paragraphs, **bold**, "- " lists) as safe HTML. */
export function bodyHtml(body: string): string {
  return body
    .split(/\n{2,}/)
    .map((paragraph) => {
      const lines = paragraph
        .split('\n')
        .map((line) => escapeHtml(line).replace(/\*\*([^*\n]+)\*\*/g, '<strong>$1</strong>'));
      if (lines.every((line) => line.startsWith('- ')))
        return `<ul>${lines.map((l) => `<li>${l.slice(2)}</li>`).join('')}</ul>`;
      return `<p>${lines.join('<br>')}</p>`;
    })
    .join('');
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

/** A withdrawn notice: that it was withdrawn, and nothing else of it (issue 15, finding 5). */
export function withdrawnPage(announced: CaseOutcome | null, wanted: boolean): string {
  const body = announced
    ? `<h1>${announced.kind === 'expired' ? '协查通告已到期' : '案件已告破'}</h1><p>${OUTCOME_TEXT[announced.kind]}</p>` +
      '<p>原通告的内容和照片已不再公开。</p>'
    : '<h1>此通知已撤回</h1><p>发布单位已撤回这条通知，其内容不再公开。</p>';
  const form = wanted ? '<p class="notice">线索征集已结束，不再接收线索。</p>' : '';
  return layout('通知已撤回', body + form + EMERGENCY);
}

export interface TipFormView {
  noticeId: string;
  state: 'open' | 'closed_deadline';
  values?: { text?: string; phone?: string };
  error?: string | null;
  received?: boolean;
}

function tipForm(view: TipFormView): string {
  if (view.state === 'closed_deadline') {
    return '<h2>提供线索</h2><p class="notice">协查通告已过截止日期，线索征集已结束。如有紧急情况请拨打 110。</p>';
  }
  if (view.received) {
    return '<h2>提供线索</h2><p class="notice">您的线索已收到，感谢您的支持！办案民警会尽快核实。</p>';
  }
  const error = view.error ? `<p class="error" role="alert">${escapeHtml(view.error)}</p>` : '';
  return (
    `<h2 id="tip">提供线索</h2>${error}` +
    `<form method="post" action="/n/${escapeHtml(view.noticeId)}/tips" enctype="multipart/form-data">` +
    '<label for="text">线索内容<span class="hint">时间、地点、看到的情况，越具体越好（最多 2000 字）</span></label>' +
    `<textarea id="text" name="text" required maxlength="2000">${escapeHtml(view.values?.text ?? '')}</textarea>` +
    '<label for="phone">联系电话（选填）<span class="hint">方便民警回访；不填也可以</span></label>' +
    `<input id="phone" name="phone" type="tel" maxlength="20" autocomplete="tel" value="${escapeHtml(view.values?.phone ?? '')}">` +
    '<label for="photo">照片（选填，一张）</label>' +
    '<input id="photo" name="photo" type="file" accept="image/jpeg,image/png,image/webp">' +
    '<p class="meta">我们不记录您的 IP 地址和设备信息，只保存您填写的内容。</p>' +
    '<button type="submit">提交线索</button></form>'
  );
}

export function noticePage(notice: ApprovedNotice, tip: TipFormView | null): string {
  const { content } = notice;
  const label = CATEGORY_LABELS[content.category] ?? '';
  const picture = content.media[0] ?? (content.video ? { sha256: content.video.posterSha256, caption: null } : null);
  const photo = picture
    ? `<img class="photo" src="/media/${picture.sha256}" alt="${escapeHtml(picture.caption ?? content.title)}">`
    : '';
  const wanted = content.wanted;
  const facts = wanted
    ? '<dl class="facts">' +
      `<dt>简要案情</dt><dd>${escapeHtml(wanted.caseSummary)}</dd>` +
      `<dt>嫌疑人特征</dt><dd>${escapeHtml(wanted.suspectDescription)}</dd>` +
      `<dt>悬赏</dt><dd>${escapeHtml(wanted.reward)}</dd>` +
      `<dt>联系人</dt><dd>${escapeHtml(wanted.contactName)} <a href="${telHref(wanted.contactPhone)}">${escapeHtml(wanted.contactPhone)}</a></dd>` +
      `<dt>截止日期</dt><dd>${escapeHtml(wanted.deadline)}</dd></dl>`
    : '';
  return layout(
    content.title,
    `<span class="label">${escapeHtml(label)}</span><h1>${escapeHtml(content.title)}</h1>${photo}${facts}` +
      bodyHtml(content.body) +
      `<a class="call" href="${telHref(content.hotline)}">拨打 ${escapeHtml(content.hotline)}</a>` +
      `<p class="meta">发布单位：${escapeHtml(content.issuingUnit)}</p>` +
      (tip ? tipForm(tip) : ''),
  );
}

/** The answer to a posted tip when the notice page cannot be shown (withdrawn, too many). */
export function tipAnswerPage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>${EMERGENCY}`);
}
