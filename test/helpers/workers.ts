// Workers for crash and fault tests (test/helpers/delivery.ts's world): a worker whose engine
// ports are the world's with some of them replaced (a send that hangs, a write that fails, a
// staff member acting mid-batch), and a worker that died holding a campaign's batch.
import type { EnginePorts } from '../../src/engine/ports.js';
import { claimAttempts, claimBatch, deliveryId, dueBatchIds, type HeldBatch } from '../../src/engine/queue.js';
import { DEFAULT_WORKER, sendRequestFor, Worker } from '../../src/engine/worker.js';
import type { Clock } from '../../src/lib/clock.js';
import type { DeliveryWorld } from './delivery.js';

/**
 * A worker of `concurrency` lanes over the world's ports with `replaced` put in their place
 * (the others are the world's own); `replaced` may call the world's (`w.t.ctx.dispatch`).
 */
export function workerWithPorts(
  w: DeliveryWorld,
  clock: Clock,
  replaced: Partial<EnginePorts>,
  concurrency: number,
): Worker {
  const ports: EnginePorts = Object.assign(Object.create(w.t.ctx.dispatch), replaced);
  return new Worker(w.t.ctx.campaigns, ports, clock, { ...DEFAULT_WORKER, concurrency, pollMs: 10 });
}

/**
 * A worker (`dead-worker`) that claimed the campaign's due batch and the first attempt of its
 * first `claimed` deliveries (which it may have posted), then died: its lease runs until the
 * clock passes it. Returns the held batch and the deliveries it claimed.
 */
export async function diedHoldingBatch(
  campaignId: string,
  clock: Clock,
  claimed: number,
): Promise<{ held: HeldBatch; claimed: HeldBatch['batch']['items'] }> {
  const [batchId] = (await dueBatchIds(clock.now(), 100)).filter((b) => b.includes(campaignId));
  const held = await claimBatch(batchId!, 'dead-worker', clock.now());
  if (!held) throw new Error(`no due batch of campaign ${campaignId} to claim`);
  const items = held.batch.items.slice(0, claimed);
  await claimAttempts(
    items.map((item) => ({ deliveryId: deliveryId(held.batch.occurrenceId, item.groupId), attempt: 1 })),
    'dead-worker',
    clock.now(),
  );
  return { held, claimed: items };
}

/**
 * A worker that claimed the campaign's due batch and its first delivery's attempt, sent it (an
 * officer task made, a robot posted), then died before recording anything. Returns that
 * delivery's id (its task's key).
 */
export async function diedAfterFirstSend(w: DeliveryWorld, campaignId: string, clock: Clock): Promise<string> {
  const {
    held,
    claimed: [item],
  } = await diedHoldingBatch(campaignId, clock, 1);
  await w.t.ctx.dispatch.send(sendRequestFor(held.batch, item!), new AbortController().signal);
  return deliveryId(held.batch.occurrenceId, item!.groupId);
}
