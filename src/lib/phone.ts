// Phone numbers as people type them: the group sheet and the user accounts spell one number
// in several ways (spaces, dashes, a +86 prefix); they are compared normalised.

/** Digits only, without a leading China country code: `+86 139-0000-0001` → `13900000001`. */
export function normalisePhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  if (digits.length === 13 && digits.startsWith('86')) return digits.slice(2);
  if (digits.length === 15 && digits.startsWith('0086')) return digits.slice(4);
  return digits;
}
