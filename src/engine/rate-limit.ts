// Per-robot send limits, shared by every worker process through the database. Several
// groups can share one robot (one DingTalk token in many village groups), and their batches
// may be sent by different workers at once; DingTalk answers a 21st post in a minute with a
// 10-minute ban (130101), so the limit must hold across processes, not per process.
//
// Contract: for a robot whose platform allows `limit` posts per `windowMs`, the sends this
// limiter lets through, from any number of processes, number at most `limit` in any
// `windowMs` of their arrival at the platform, provided each arrives within MARGIN_MS of its
// reservation (a render and a request; also covers clock differences between processes).
// A burst of `limit` at once is allowed, as the platform allows it.
//
// How, on FerretDB (no atomic conditional update, concurrent $inc can lose one, but a unique
// key holds): each robot window is a ring of `limit` places. Its sends take sequence numbers
// s = 0, 1, 2… by inserting the key `robot|window|s` (whoever inserts it owns it; everyone
// else gets a duplicate key and tries s + 1). Send s may go only when send s − limit (the
// same place of the ring, one round earlier) was reserved at least `windowMs + MARGIN_MS`
// ago: so any `limit + 1` sends span more than a window. A robot used once (most village
// groups have their own robot) costs one insert, made with the other sends of the wave.
//
// Finding where a robot's sequence is: each process remembers it for the robots it used; a
// process new to a robot starts at 0 and is pushed up by duplicate keys; the robot's head
// document (its highest sequence number, kept with $max: a lost update only makes the walk a
// little longer) lets it jump there. Retention (docs/retention.md) deletes old slots but
// keeps places 0…limit−1 of a robot used in the last hour, so a process new to an active
// robot always meets a duplicate at 0 and reads the head; a robot idle for an hour is
// forgotten entirely (its next send starts a fresh ring, which it may: nothing is recent).
import mongoose from 'mongoose';
import { RateSlotModel, claimMany } from '../db/claims.js';
import { isDuplicateKey } from '../lib/errors.js';

export interface Window {
  limit: number;
  windowMs: number;
}

/**
 * Reservation to arrival at the platform (render, request, clocks), added to each minute
 * window; a window shorter than ten margins gets a tenth of itself (Feishu's 5 a second: 100 ms).
 */
export const MARGIN_MS = 5_000;

export function marginOf(window: Window): number {
  return Math.min(MARGIN_MS, window.windowMs / 10);
}
/** A robot whose last send is this much older than its window is forgotten by retention. */
export const IDLE_FORGET_MS = 60 * 60_000;

const headSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true }, // robot|window
    seq: { type: Number, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
/** The highest sequence number known per robot window (approximate: see the header). */
export const RateHeadModel = mongoose.model('RateHead', headSchema);

export interface Reservation {
  robot: string;
  windows: readonly Window[];
}

interface Ring {
  key: string;
  window: Window;
}

const ringKey = (robot: string, window: Window) => `${robot}|${window.limit}/${window.windowMs}`;
const slotKey = (ring: string, seq: number) => `${ring}|${seq}`;

export class SharedRateLimiter {
  /** Per ring: the next sequence number worth trying. */
  private readonly next = new Map<string, number>();
  /** Reservation times of slots this process has seen (its own, or read), by slot key. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly owner: string) {}

  /**
   * Takes, for each request, a slot in every window of its robot at `now`. Returns per
   * request 0 (it may send now) or how long to wait before asking again. A slot taken in
   * one window of a request that must wait in another is spent (fewer posts, never more).
   */
  async reserve(requests: readonly Reservation[], now: Date): Promise<number[]> {
    const at = now.getTime();
    this.forget(at);
    const waits = requests.map(() => 0);
    let open = requests.flatMap((request, index) =>
      request.windows.map((window) => ({ index, ring: { key: ringKey(request.robot, window), window } as Ring })),
    );
    while (open.length > 0) {
      const tries: { index: number; ring: Ring; seq: number }[] = [];
      const deferred: typeof open = [];
      const probing = new Set<string>();
      for (const claim of open) {
        if (waits[claim.index]! > 0) continue;
        // A ring new to this process is probed with one try at 0 before anything else.
        if (probing.has(claim.ring.key)) {
          deferred.push(claim);
          continue;
        }
        const known = this.next.get(claim.ring.key);
        if (known === undefined) probing.add(claim.ring.key);
        const seq = known ?? 0;
        const wait = await this.waitFor(claim.ring, seq, at);
        if (wait > 0) {
          waits[claim.index] = Math.max(waits[claim.index]!, wait);
          continue;
        }
        tries.push({ ...claim, seq });
        this.next.set(claim.ring.key, seq + 1);
        // Counted as reserved now for the tries after it in this round (a later place may follow it).
        this.seen.set(slotKey(claim.ring.key, seq), at);
      }
      if (tries.length === 0 && deferred.length === 0) break;
      const keys = tries.map((t) => slotKey(t.ring.key, t.seq));
      const won = await claimMany(keys, this.owner, now, RateSlotModel, null);
      const lost: typeof tries = [];
      for (const t of tries) {
        if (won.has(slotKey(t.ring.key, t.seq))) continue;
        // Someone else's slot: its time is read when it matters.
        this.seen.delete(slotKey(t.ring.key, t.seq));
        lost.push(t);
      }
      await this.raiseHeads(tries.filter((t) => won.has(slotKey(t.ring.key, t.seq)) && t.seq > 0), now);
      // A duplicate at 0: the robot has a ring this process did not know; jump to its head.
      for (const t of lost) if (t.seq === 0) await this.jumpToHead(t.ring.key);
      open = [...lost.map(({ index, ring }) => ({ index, ring })), ...deferred].filter((c) => waits[c.index] === 0);
    }
    return waits;
  }

  /** How long sequence number `seq` must wait for its place's previous round to age out. */
  private async waitFor(ring: Ring, seq: number, at: number): Promise<number> {
    if (seq < ring.window.limit) return 0;
    const previous = slotKey(ring.key, seq - ring.window.limit);
    let reservedAt = this.seen.get(previous);
    if (reservedAt === undefined) {
      const doc = await RateSlotModel.findById(previous, { at: 1 }).lean<{ at: Date }>();
      // Missing: deleted by retention, which deletes only slots older than window + margin.
      reservedAt = doc ? doc.at.getTime() : 0;
      this.seen.set(previous, reservedAt);
    }
    return Math.max(0, reservedAt + ring.window.windowMs + marginOf(ring.window) - at);
  }

  private async jumpToHead(ring: string): Promise<void> {
    const head = await RateHeadModel.findById(ring, { seq: 1 }).lean<{ seq: number }>();
    this.next.set(ring, Math.max(this.next.get(ring) ?? 0, (head?.seq ?? 0) + 1));
  }

  private async raiseHeads(taken: { ring: Ring; seq: number }[], now: Date): Promise<void> {
    const highest = new Map<string, number>();
    for (const t of taken) highest.set(t.ring.key, Math.max(highest.get(t.ring.key) ?? 0, t.seq));
    await Promise.all([...highest].map(([ring, seq]) => raiseHead(ring, seq, now)));
  }

  private forget(at: number): void {
    if (this.seen.size < 20_000) return;
    // Slots older than any window plus margin decide nothing; rings restart from their heads.
    for (const [key, reservedAt] of this.seen) if (reservedAt < at - 10 * 60_000) this.seen.delete(key);
    if (this.next.size > 20_000) this.next.clear();
  }
}

/**
 * Deletes slots that decide nothing any more: older than their window plus the margin,
 * except places 0…limit−1 of a robot used within IDLE_FORGET_MS (they send a process new to
 * the robot to its head); a robot idle longer loses its slots and head. Returns how many.
 */
export async function pruneRateSlots(now: Date): Promise<number> {
  const at = now.getTime();
  const slots = await RateSlotModel.find({}, { _id: 1, at: 1 }).lean<{ _id: string; at: Date }[]>();
  const rings = new Map<string, { last: number; slots: { id: string; seq: number; at: number }[] }>();
  for (const slot of slots) {
    const cut = slot._id.lastIndexOf('|');
    const ring = slot._id.slice(0, cut);
    const entry = rings.get(ring) ?? { last: 0, slots: [] };
    entry.last = Math.max(entry.last, slot.at.getTime());
    entry.slots.push({ id: slot._id, seq: Number(slot._id.slice(cut + 1)), at: slot.at.getTime() });
    rings.set(ring, entry);
  }
  const doomed: string[] = [];
  const idleRings: string[] = [];
  for (const [ring, { last, slots: list }] of rings) {
    const [limit, windowMs] = ring.slice(ring.lastIndexOf('|') + 1).split('/').map(Number);
    const stale = at - windowMs! - marginOf({ limit: limit!, windowMs: windowMs! });
    if (last < stale - IDLE_FORGET_MS) {
      idleRings.push(ring);
      doomed.push(...list.map((s) => s.id));
    } else {
      doomed.push(...list.filter((s) => s.seq >= limit! && s.at < stale).map((s) => s.id));
    }
  }
  let deleted = 0;
  for (let i = 0; i < doomed.length; i += 1_000) {
    deleted += (await RateSlotModel.deleteMany({ _id: { $in: doomed.slice(i, i + 1_000) } })).deletedCount;
  }
  for (let i = 0; i < idleRings.length; i += 1_000) {
    await RateHeadModel.deleteMany({ _id: { $in: idleRings.slice(i, i + 1_000) } });
  }
  return deleted;
}

/**
 * Raises a ring's head to `seq` (never lowers it). Two processes creating the same head at
 * once: the database lets one upsert insert it and refuses the other's with a duplicate key
 * (E11000; MongoDB and FerretDB alike); the head then exists, so the loser's raise is an update.
 */
export async function raiseHead(ring: string, seq: number, now: Date): Promise<void> {
  const raise = { $max: { seq }, $set: { at: now } };
  try {
    await RateHeadModel.updateOne({ _id: ring }, raise, { upsert: true });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    await RateHeadModel.updateOne({ _id: ring }, raise);
  }
}
