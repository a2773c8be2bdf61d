// Notice → text card for one channel format, within a byte limit. Templates live in
// templates/text/ (data, not code); notice text is passed to them as values, so a "{{…}}"
// typed into a notice is printed literally, never evaluated.
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import { CATEGORY_LABELS } from '../../notices/categories.js';
import type { CardNotice, Personalisation } from '../content.js';
import { chineseDate, phoneNumber, placeName } from '../format.js';
import { escapeMarkdown, formatBody, plainExcerpt } from './format-body.js';
import { cutToBytes, graphemes, utf8Bytes } from './utf8.js';

export type TextCardFormat = 'text' | 'markdown' | 'link';

export interface TextCardInput {
  notice: CardNotice;
  /**
   * The tracked link to the full notice, made by the caller (render never invents URLs).
   * Empty: a text card without its 详情 line (a county whose officers forward the picture,
   * which carries the QR code, asks for texts without links).
   */
  link: string;
  /** A picture URL for link cards (e.g. PUBLIC_BASE_URL/media/<sha256>). */
  pictureUrl?: string | null;
  personal?: Personalisation | null;
}

export interface TextCard {
  format: TextCardFormat;
  /** Heading: the markdown title / link-card title a chat preview shows. */
  title: string;
  /** The message text (link cards: the description). */
  content: string;
  /** UTF-8 size of content. */
  bytes: number;
  /** The body was cut to fit; the card then ends with a pointer to the 详情 link. */
  truncated: boolean;
  url: string;
  pictureUrl: string | null;
}

export class CardTooLarge extends Error {
  constructor(
    readonly minimumBytes: number,
    readonly maxBytes: number,
  ) {
    super(`card needs at least ${minimumBytes} bytes without its body, limit is ${maxBytes}`);
    this.name = 'CardTooLarge';
  }
}

const handlebars = Handlebars.create();
const TEMPLATE_DIR = new URL('../../../templates/text/', import.meta.url);

function load(name: string): Handlebars.TemplateDelegate {
  // noEscape: these are chat messages, not HTML (markdown escaping is done per field).
  return handlebars.compile(readFileSync(new URL(`${name}.hbs`, TEMPLATE_DIR), 'utf8'), { noEscape: true });
}

const TEMPLATES: Record<TextCardFormat, Handlebars.TemplateDelegate> = {
  text: load('text'),
  markdown: load('markdown'),
  link: load('link'),
};

function fieldsFor(input: TextCardInput, format: TextCardFormat) {
  const { notice } = input;
  const esc = format === 'markdown' ? escapeMarkdown : (text: string) => text;
  const personal = input.personal
    ? {
        villageName: esc(input.personal.villageName),
        place: esc(placeName(input.personal.villageName, input.personal.townshipName)),
        officerName: input.personal.officerName ? esc(input.personal.officerName) : null,
        officerPhone: input.personal.officerPhone ? esc(phoneNumber(input.personal.officerPhone)) : null,
      }
    : null;
  const wanted = notice.wanted
    ? Object.fromEntries(
        Object.entries({
          ...notice.wanted,
          contactPhone: phoneNumber(notice.wanted.contactPhone),
          deadline: chineseDate(notice.wanted.deadline),
        }).map(([key, value]) => [key, esc(value.replace(/\s+/g, ' '))]),
      )
    : null;
  return {
    categoryLabel: CATEGORY_LABELS[notice.category],
    title: esc(notice.title.trim()),
    issuingUnit: esc(notice.issuingUnit),
    issuedOn: chineseDate(notice.issuedOn),
    hotline: esc(notice.hotline),
    link: input.link,
    personal,
    wanted,
  };
}

/** The line without trailing spaces and tabs; a loop, because /[ \t]+\n/g is quadratic on a run of spaces. */
function trimLineEnd(line: string): string {
  let end = line.length;
  while (end > 0 && (line[end - 1] === ' ' || line[end - 1] === '\t')) end -= 1;
  return end === line.length ? line : line.slice(0, end);
}

/** Normalises the template's blank lines: at most one empty line in a row, none at the ends. */
function tidy(text: string): string {
  return text
    .split('\n')
    .map(trimLineEnd)
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export interface TextCardLimits {
  maxBytes: number;
  /** Link cards' titles are cut to this many bytes (the channel's link-card title limit). */
  titleMaxBytes?: number;
  /**
   * What maxBytes is compared with (default: the UTF-8 size of the content). A channel that
   * limits its whole request body passes the size of the exact body it will send.
   */
  measure?: (card: TextCard) => number;
}

export function renderTextCard(input: TextCardInput, format: TextCardFormat, limits: TextCardLimits): TextCard {
  const fields = fieldsFor(input, format);
  const template = TEMPLATES[format];
  const source =
    format === 'link' ? input.notice.summary?.trim() || plainExcerpt(input.notice.body) : input.notice.body;
  const draw = (text: string, truncated: boolean) => {
    const body = format === 'link' ? text : formatBody(text, format);
    return tidy(template({ ...fields, body, description: body, truncated }));
  };

  const card = (content: string, truncated: boolean): TextCard => ({
    format,
    title:
      format === 'markdown'
        ? `【${fields.categoryLabel}】${input.notice.title.trim()}`
        : cutToBytes(input.notice.title.trim(), limits.titleMaxBytes ?? Number.MAX_SAFE_INTEGER),
    content,
    bytes: utf8Bytes(content),
    truncated,
    url: input.link,
    pictureUrl: input.pictureUrl ?? null,
  });

  const size = (content: string, truncated: boolean) =>
    limits.measure ? limits.measure(card(content, truncated)) : utf8Bytes(content);
  const whole = draw(source, false);
  if (size(whole, false) <= limits.maxBytes) return card(whole, false);

  // Binary search for the most body characters that fit: the card grows monotonically
  // with the prefix length (formatting only adds, never removes, per character).
  const chars = graphemes(source);
  const fits = (n: number) => size(draw(chars.slice(0, n).join('').trimEnd(), true), true) <= limits.maxBytes;
  if (!fits(0)) throw new CardTooLarge(size(draw('', true), true), limits.maxBytes);
  let low = 0;
  let high = chars.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (fits(mid)) low = mid;
    else high = mid - 1;
  }
  return card(draw(chars.slice(0, low).join('').trimEnd(), true), true);
}
