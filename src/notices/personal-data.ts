// The personal-data check of a wanted notice (SPEC §3.8): before submission its text is
// searched for full resident ID numbers (18 digits with a valid GB 11643 check digit) and
// full phone numbers other than the contact's and the hotline. Each finding must be
// confirmed by the editor; confirmations are kept by a hash of the number, never the number.
import { createHash } from 'node:crypto';

export type PersonalDataKind = 'resident_id' | 'phone';

export interface PersonalDataFinding {
  kind: PersonalDataKind;
  /** Which field of the content holds it (title, body, wanted.caseSummary, …). */
  field: string;
  /** The number with its middle hidden, for the editor to recognise it. */
  masked: string;
  /** Stable key of this number: what a confirmation names. */
  key: string;
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** GB 11643-1999: the 18th character is the mod-11 check over the first 17 digits. */
export function isResidentId(candidate: string): boolean {
  if (!/^[1-9][0-9]{16}[0-9Xx]$/.test(candidate)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(candidate[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11] === candidate[17]!.toUpperCase();
}

const digitsOf = (text: string) => text.replace(/[^0-9]/g, '');

export function findingKey(kind: PersonalDataKind, value: string): string {
  return createHash('sha256').update(`${kind}:${value.toUpperCase()}`).digest('hex').slice(0, 16);
}

function mask(value: string): string {
  return value.length <= 7 ? value : `${value.slice(0, 3)}${'*'.repeat(value.length - 7)}${value.slice(-4)}`;
}

// Each pattern is linear: fixed-length pieces, no nested or adjacent open quantifiers.
const RESIDENT_ID = /(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])/g;
const MOBILE = /(?<![0-9])1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])/g;
const LANDLINE = /(?<![0-9])0[1-9][0-9]{1,2}[ -]?[1-9][0-9]{6,7}(?![0-9])/g;

/** Every full resident ID and phone number in the texts, except the allowed phone numbers. */
export function findPersonalData(
  texts: { field: string; text: string | null | undefined }[],
  allowedPhones: (string | null | undefined)[],
): PersonalDataFinding[] {
  const allowed = new Set(allowedPhones.filter(Boolean).map((p) => digitsOf(p!)));
  const found = new Map<string, PersonalDataFinding>();
  const add = (kind: PersonalDataKind, field: string, value: string) => {
    const key = findingKey(kind, value);
    if (!found.has(`${field}|${key}`)) found.set(`${field}|${key}`, { kind, field, masked: mask(value), key });
  };
  for (const { field, text } of texts) {
    if (!text) continue;
    for (const [id] of text.matchAll(RESIDENT_ID)) if (isResidentId(id)) add('resident_id', field, id.toUpperCase());
    for (const pattern of [MOBILE, LANDLINE]) {
      for (const [phone] of text.matchAll(pattern)) {
        const digits = digitsOf(phone);
        if (!allowed.has(digits)) add('phone', field, digits);
      }
    }
  }
  return [...found.values()];
}
