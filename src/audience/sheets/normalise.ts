// Cell text as staff type it: full-width digits and letters, stray and full-width spaces,
// apostrophes our own export put in front of formula characters.
const INVISIBLE = /[\u200B-\u200D\uFEFF]/g;

/** Undoes export neutralisation ('=…) and trims every kind of space. */
export function cleanText(raw: string): string {
  let text = raw
    .replace(INVISIBLE, '')
    .replace(/[\s\u3000]+/g, ' ')
    .trim();
  if (/^'[=+\-@\t\r]/.test(text)) text = text.slice(1);
  return text;
}

/** For codes, numbers, phones, keywords of a closed list: full-width → half-width, no spaces. */
export function compactText(raw: string): string {
  return cleanText(raw).normalize('NFKC').replace(/\s+/g, '');
}

/** Header cells: NFKC, no spaces, lower case, parentheses of either width ignored. */
export function headerKey(raw: string): string {
  return compactText(raw)
    .toLowerCase()
    .replace(/[()（）/／_\-:：*]/g, '');
}

/** A cell starting with = + - @ (or tab/CR) is a formula to a spreadsheet: prefix an apostrophe. */
export function neutraliseFormula(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}
