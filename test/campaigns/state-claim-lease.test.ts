// A process killed between claiming a campaign's next state and writing it leaves the claim
// behind; until it is passed over every change of that campaign is refused (409). It is passed
// over once the process's lease (LEASE_SECONDS) has lapsed, not after a fixed minute: the same
// rule that takes over a dead runner's intents (db/claims.ts, changeStateOnce).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignModel } from '../../src/campaigns/model.js';
import { ClaimModel } from '../../src/db/claims.js';
import { fixedClock } from '../../src/lib/clock.js';
import { approvedNotice, audienceOf, type DeliveryWorld, startDeliveryWorld, wecomGroups } from '../helpers/delivery.js';

const clock = fixedClock('2026-11-29T02:00:00Z');

describe('a state claim whose writer died', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { LEASE_SECONDS: '4', CHANNEL_TIMEOUT_MS: '2000' } });
  });
  afterAll(() => w.close());

  it('is passed over once the lease has lapsed: the approval is refused within it and accepted after it', async () => {
    const noticeId = await approvedNotice(w, { title: '认领过期' });
    const groups = await wecomGroups(w, 1);
    const created = await w.t.request('POST', '/api/campaigns', w.editor, {
      title: '认领过期',
      noticeId,
      audience: audienceOf([], groups.map((g) => g.id)),
      schedule: { kind: 'now' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    expect((await w.t.request('POST', `/api/campaigns/${id}/submit`, w.editor)).statusCode).toBe(200);
    // The dead writer's claim on the next state, never written.
    const seq = Number((await CampaignModel.findById(id).lean())?.stateSeq ?? 0) + 1;
    await ClaimModel.create({ _id: `campaign-state:${id}#${seq}`, owner: 'campaign-state', at: clock.now() });

    const approve = () => w.t.request('POST', `/api/campaigns/${id}/approve`, w.reviewer);
    expect((await approve()).statusCode).toBe(409);
    clock.advance(3_000); // within the 4 s lease: its writer may still be writing
    expect((await approve()).statusCode).toBe(409);
    clock.advance(2_000); // past it
    const approved = await approve();
    expect(approved.statusCode, approved.body).toBe(200);
    expect((await CampaignModel.findById(id).lean())?.status).not.toBe('in_review');
  });
});
