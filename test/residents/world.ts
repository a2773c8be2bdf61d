// A county with robot doubles and a wanted notice that was really sent (a campaign ran), its
// case officer with a notification robot, for the residents' pages and the tips inbox.
import { fixedClock } from '../../src/lib/clock.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  type DeliveryWorld,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { photo } from '../helpers/images.js';
import { WANTED } from '../helpers/notices.js';
import { TREE } from '../helpers/regions.js';
import { upload } from '../helpers/upload.js';

export const START = '2025-07-20T02:00:00.000Z';

/** A wanted notice that was really sent. */
export interface WantedCase {
  noticeId: string;
  /** The campaign that sent the notice. */
  campaignId: string;
  /** The suspect's photo on the notice. */
  photoSha256: string;
  groups: { id: string; key: string }[];
}

export interface WantedWorld extends DeliveryWorld, WantedCase {
  clock: ReturnType<typeof fixedClock>;
  officer: { token: string; id: string };
  officerRobotKey: string;
}

export async function startWantedWorld(
  overrides: Record<string, unknown> = {},
  env: Record<string, string> = {},
): Promise<WantedWorld> {
  const clock = fixedClock(START);
  const w = await startDeliveryWorld({
    clock,
    env: { PUBLIC_BASE_URL: 'https://jx.example.cn', TOKEN_TTL_HOURS: '720', ...env },
  });
  const officer = await w.t.userToken('officer', TREE.townshipA.code);
  const officerRobotKey = `station-robot-${Math.random().toString(36).slice(2, 10)}`;
  w.doubles.addRobot({ platform: 'wecom', key: officerRobotKey });
  const robot = await w.t.request('PUT', `/api/users/${officer.id}/notify-robot`, officer.token, {
    channel: { kind: 'wecom', key: officerRobotKey },
  });
  if (robot.statusCode !== 200) throw new Error(`notify robot: ${robot.body}`);
  const world = { ...w, clock, officer, officerRobotKey };
  return { ...world, ...(await sentWantedCase(world, overrides)) };
}

/**
 * A wanted notice of the county, really sent: the suspect's photo, the notice approved, two
 * more groups in village A (`groups`) and a campaign to the whole village run until idle. The
 * world's own case is made this way; tests that each conclude a case of their own can each make
 * one in a shared world instead of starting a world each.
 */
export async function sentWantedCase(
  w: Omit<WantedWorld, keyof WantedCase>,
  overrides: Record<string, unknown> = {},
): Promise<WantedCase> {
  const uploaded = await upload(w.t, '/api/media', w.editor, 'suspect.jpg', await photo(320, 400), 'image/jpeg');
  if (uploaded.statusCode !== 201) throw new Error(`photo: ${uploaded.body}`);
  const photoSha256 = uploaded.json().sha256 as string;
  const noticeId = await approvedNotice(w, {
    media: [{ sha256: photoSha256, caption: '嫌疑人照片' }],
    category: 'wanted_clue',
    title: '关于征集五山街道商铺盗窃案线索的通告',
    regionCode: TREE.countyA.code,
    wanted: { ...WANTED, contactUserId: w.officer.id },
    ...overrides,
  });
  const groups = await wecomGroups(w, 2);
  const campaignId = await approvedCampaign(w, {
    title: '协查',
    noticeId,
    audience: audienceOf([TREE.villageA.code]),
    schedule: { kind: 'now' },
  });
  await runUntilIdle(w);
  return { noticeId, campaignId, photoSha256, groups };
}
