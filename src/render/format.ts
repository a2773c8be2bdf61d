// How cards print dates, places and phone numbers: the way people write and say them.

/** "2025-06-01" → "2025年6月1日"; anything else is returned as given. */
export function chineseDate(isoDay: string): string {
  const match = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(isoDay.trim());
  if (!match) return isoDay;
  return `${match[1]}年${Number(match[2])}月${Number(match[3])}日`;
}

/** Township then village, as people say it: 五山街道华工社区. */
export function placeName(villageName: string, townshipName?: string | null): string {
  const township = townshipName?.trim() ?? '';
  const village = villageName.trim();
  if (!township || village.startsWith(township)) return village;
  return `${township}${village}`;
}

/**
 * A mobile number grouped 3-4-4 with spaces (138 0013 8000), a landline as area code and
 * number (020-12345678 stays); anything else (110, 96110, "110 / 96110") unchanged.
 */
export function phoneNumber(phone: string): string {
  const digits = phone.replace(/[\s-]/g, '');
  const mobile = /^(\+?86)?(1\d{2})(\d{4})(\d{4})$/.exec(digits);
  if (mobile) return `${mobile[1] ? '+86 ' : ''}${mobile[2]} ${mobile[3]} ${mobile[4]}`;
  return phone.trim();
}
