// A notice version's stored content → the plain data cards are drawn from.
import type { NoticeContent } from '../notices/service.js';
import type { CardNotice } from './content.js';

/** Calendar date in the install's time zone, as cards print it (YYYY-MM-DD). */
export function calendarDate(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

export function toCardNotice(content: NoticeContent, issuedOn: string): CardNotice {
  return {
    category: content.category,
    title: content.title,
    body: content.body,
    summary: content.summary,
    issuingUnit: content.issuingUnit,
    hotline: content.hotline,
    issuedOn,
    // Only what the card prints: the case fields (officer, incident, radius) stay off it.
    wanted: content.wanted && {
      caseSummary: content.wanted.caseSummary,
      suspectDescription: content.wanted.suspectDescription,
      reward: content.wanted.reward,
      contactName: content.wanted.contactName,
      contactPhone: content.wanted.contactPhone,
      deadline: content.wanted.deadline,
    },
  };
}
