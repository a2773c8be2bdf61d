// Officers for the notifier's tests (test/helpers/delivery.ts's world): an officer account
// made by the admin, with a WeCom robot at the doubles as its notify robot (where its digests,
// reminders and escalations are posted), and the manual groups it forwards to.
import { expect } from 'vitest';
import { ADMIN_PASSWORD } from './app.js';
import { type DeliveryWorld, manualGroup } from './delivery.js';
import { TREE } from './regions.js';

export interface OfficerSpec {
  /** Display name (also the name groups give for their officer). */
  name: string;
  phone: string;
  /** The notify robot's key, registered at the doubles here. */
  robot: string;
  /** Login name; `u<phone>` unless given. Its password is `${ADMIN_PASSWORD}-<phone>`. */
  username?: string;
  /** Whom reminders escalate to (a user id); absent: the field is not sent. */
  superiorUserId?: string | null;
  /** Clears the admin-set password's change-first flag (issue 26.9), so the officer can log in. */
  activate?: boolean;
}

/** The password an officer made by `officerWithRobot` logs in with. */
export const officerPassword = (phone: string) => `${ADMIN_PASSWORD}-${phone}`;

/** An officer account of county A with its notify robot set; returns its user id. */
export async function officerWithRobot(w: DeliveryWorld, o: OfficerSpec): Promise<string> {
  const username = o.username ?? `u${o.phone}`;
  const created = await w.t.request('POST', '/api/users', w.t.adminToken, {
    username,
    displayName: o.name,
    password: officerPassword(o.phone),
    role: 'officer',
    regionCode: TREE.countyA.code,
    phone: o.phone,
  });
  expect(created.statusCode, created.body).toBe(201);
  if (o.activate) await w.t.activate(username);
  const id = created.json().id as string;
  w.doubles.addRobot({ platform: 'wecom', key: o.robot });
  const set = await w.t.request('PUT', `/api/users/${id}/notify-robot`, w.t.adminToken, {
    channel: { kind: 'wecom', key: o.robot },
    superiorUserId: o.superiorUserId,
  });
  expect(set.statusCode, set.body).toBe(200);
  return id;
}

/** `count` manual groups of village A named `<prefix>1组群`, `<prefix>2组群`…, forwarded by the officer; their ids. */
export async function officerGroups(
  w: DeliveryWorld,
  o: { name: string; phone: string },
  prefix: string,
  count: number,
  memberCount = 100,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++)
    ids.push(await manualGroup(w, `${prefix}${i + 1}组群`, { memberCount, officer: { name: o.name, phone: o.phone } }));
  return ids;
}
