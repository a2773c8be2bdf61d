// Who an officer is: the group sheet names an officer by name and phone; the account with
// that phone is the one whose notification robot and superior apply.
import { UserModel } from '../auth/model.js';
import type { OfficerAccount } from './notifier.js';

interface UserFields {
  _id: unknown;
  displayName: string;
}

const account = (doc: UserFields | null): OfficerAccount | null =>
  doc ? { id: String(doc._id), name: doc.displayName } : null;

export async function activeUserByPhone(phone: string): Promise<OfficerAccount | null> {
  return account(await UserModel.findOne({ phone, active: true }, { displayName: 1 }).lean<UserFields>());
}

export async function activeUserById(id: string): Promise<OfficerAccount | null> {
  return account(await UserModel.findOne({ _id: id, active: true }, { displayName: 1 }).lean<UserFields>());
}
