// Who an officer is: the group sheet names an officer by name and phone; the one active
// account with that phone whose scope covers the group's region is the officer whose
// notification robot and superior apply. Phones are compared normalised (digits only, a
// leading +86/86 country code dropped); two accounts in scope with one phone is ambiguous
// and nobody is told (a county-B account with a county-A officer's phone never receives A's
// links: its scope does not cover A's groups).
import { UserModel } from '../auth/model.js';
import { normalisePhone } from '../lib/phone.js';
import type { OfficerAccount, OfficerMatch } from './notifier.js';

export { normalisePhone };

interface UserFields {
  _id: unknown;
  displayName: string;
  phone?: string | null;
  regionCode?: string;
}

const account = (doc: UserFields | null): OfficerAccount | null =>
  doc ? { id: String(doc._id), name: doc.displayName } : null;

/** The spellings a stored phone may have for one normalised number (the stored ones are not normalised). */
function spellings(normalised: string): string[] {
  const spaced =
    normalised.length === 11
      ? [
          `${normalised.slice(0, 3)} ${normalised.slice(3, 7)} ${normalised.slice(7)}`,
          `${normalised.slice(0, 3)}-${normalised.slice(3, 7)}-${normalised.slice(7)}`,
        ]
      : [];
  const base = [normalised, ...spaced];
  return [...base, ...base.map((p) => `+86${p}`), ...base.map((p) => `+86 ${p}`), ...base.map((p) => `86${p}`)];
}

/**
 * The officer of a group: active accounts with the phone, inside whose scope the group's
 * region lies (`regionPath`: the group's path, root first). Exactly one, or none.
 */
export async function activeOfficerFor(phone: string, regionPath: string[]): Promise<OfficerMatch> {
  const normalised = normalisePhone(phone);
  if (normalised.length < 5) return { account: null, why: 'none' };
  const docs = await UserModel.find(
    { phone: { $in: [...new Set([phone, ...spellings(normalised)])] }, active: true },
    { displayName: 1, phone: 1, regionCode: 1 },
  ).lean<UserFields[]>();
  const inScope = docs.filter(
    (doc) =>
      normalisePhone(doc.phone ?? '') === normalised &&
      doc.regionCode !== undefined &&
      regionPath.includes(doc.regionCode),
  );
  if (inScope.length === 1) return { account: account(inScope[0]!)! };
  return { account: null, why: inScope.length > 1 ? 'ambiguous' : 'none' };
}

export async function activeUserById(id: string): Promise<OfficerAccount | null> {
  return account(await UserModel.findOne({ _id: id, active: true }, { displayName: 1 }).lean<UserFields>());
}
