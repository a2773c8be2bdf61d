// The plain data a card is drawn from. Render never reads the database or invents URLs:
// the caller passes the notice's fields, the tracked link and the pictures' bytes.
import type { Category } from '../notices/categories.js';

export interface WantedDetails {
  caseSummary: string;
  suspectDescription: string;
  reward: string;
  contactName: string;
  contactPhone: string;
  /** Calendar date as the card prints it, e.g. "2025-06-30". */
  deadline: string;
}

/** The fields of one notice version that cards show. */
export interface CardNotice {
  category: Category;
  title: string;
  /** Plain text with light markup: blank-line paragraphs, **bold**, "- " and "1. " lists. */
  body: string;
  summary?: string | null;
  issuingUnit: string;
  hotline: string;
  /** Date printed on the card, e.g. the approval date "2025-06-01". */
  issuedOn: string;
  wanted?: WantedDetails | null;
}

/** The per-group part of a card. */
export interface Personalisation {
  villageName: string;
  townshipName?: string | null;
  officerName?: string | null;
  officerPhone?: string | null;
}
