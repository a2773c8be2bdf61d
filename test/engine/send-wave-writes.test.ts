// What a wave of sends costs the database (issue 25 item 5, the fan-out's hot path): the
// cards' short links of one wave are stored in one write, not one per card, and every card
// still carries its own group's link; a link stored before (a retried send) is the same link.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShortLinkModel } from '../../src/tracking/short-links.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

/** Counts the commands sent to each collection while `fn` runs. */
async function commandsDuring(fn: () => Promise<void>): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  mongoose.set('debug', (collection: string, method: string) => {
    const key = `${collection}.${method}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  });
  try {
    await fn();
  } finally {
    mongoose.set('debug', false);
  }
  return seen;
}

const shortLinkWrites = (commands: Map<string, number>) =>
  [...commands].filter(([key]) => key.startsWith('shortlinks.insert')).reduce((sum, [, n]) => sum + n, 0);

describe('a wave of sends', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld({ env: { PUBLIC_BASE_URL: 'https://jx.example.cn' } });
  });
  afterAll(() => w.close());

  it('stores its cards’ short links in one write, and each card carries its own group’s link', async () => {
    const noticeId = await approvedNotice(w, { title: '警惕刷单返利诈骗' });
    const groups = await wecomGroups(w, 12, TREE.villageA.code);
    const campaignId = await approvedCampaign(w, {
      title: '刷单返利',
      noticeId,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    const commands = await commandsDuring(() => runUntilIdle(w));

    // 12 groups fit one wave (16 sends at once): one write for their links, not 12.
    expect(shortLinkWrites(commands), JSON.stringify([...commands])).toBe(1);
    for (const group of groups) {
      const [post] = w.doubles.received({ platform: 'wecom', robot: group.key });
      const code = /\/t\/([0-9A-Za-z]{8})/.exec(JSON.stringify(post!.body))?.[1];
      const stored = await ShortLinkModel.findById(code).lean();
      expect(stored, group.key).toMatchObject({ campaignId, groupId: group.id, noticeId });
    }
  });

  it('gives a card whose link was stored before (a retried send) that same link, without a second one', async () => {
    const links = w.t.ctx.tracking.shortLinks;
    const target = { campaignId: 'c-retry', groupId: 'g-1', noticeId: 'n-1', villageCode: TREE.villageA.code };
    const before = await links.code(target);
    // A fresh process (empty cache) prepares the same target and a new one.
    const fresh = new (links.constructor as new (secret: () => Buffer, now: () => Date) => typeof links)(
      () => w.t.ctx.tracking.secret.get(),
      () => new Date(),
    );
    const other = { ...target, groupId: 'g-2' };
    await fresh.prepare([target, other]);
    expect(await fresh.code(target)).toBe(before);
    expect(await ShortLinkModel.countDocuments({ campaignId: 'c-retry' })).toBe(2);
    const written = await commandsDuring(async () => {
      expect(await fresh.code(other)).toBe(links.codeFor(other));
    });
    expect(shortLinkWrites(written)).toBe(0);
  });
});
