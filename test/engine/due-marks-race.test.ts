// Many writers lower one due marker at once (db/due-marks.ts): every WeCom customer-group send
// of a run lowers the loop's marker. On a marker not yet written, their upserts race to insert
// it and all but one met a duplicate key (FerretDB retries no upsert; MongoDB only some): the
// send failed as 企业微信群发排队保存失败 and waited for a retry (a whole run caught it: 1 of 9
// groups left pending). Each lower must succeed.
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { connectDatabase, type Database } from '../../src/db/connection.js';
import { OpenTaskMarkModel, lowerDue as lowerNotifierDue } from '../../src/channels/manual/watch.js';
import { lowerDue, readDue } from '../../src/db/due-marks.js';
import { uniqueDbName, withDatabase } from '../helpers/app.js';

let db: Database;

beforeAll(async () => {
  db = await connectDatabase(withDatabase(inject('mongoServerUri'), uniqueDbName()), {
    ferret: inject('mongoIsFerret'),
  });
});

afterAll(async () => {
  await db?.close();
});

it('when 16 writers lower a marker that does not exist yet, all at once, then each succeeds', async () => {
  const base = Date.parse('2026-06-01T02:00:00.000Z');
  for (let round = 0; round < 10; round++) {
    const name = `race-${round}`;
    const times = Array.from({ length: 16 }, (_, i) => new Date(base + ((i * 7919) % 16) * 1_000));
    const results = await Promise.allSettled(times.map((at) => lowerDue(name, at)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failed.map((r) => String(r.reason)), `round ${round + 1}`).toEqual([]);
    const { at } = await readDue(name);
    // MongoDB applies each $min atomically; FerretDB reads, then writes, so a racing lower can be
    // lost (bounded by the loops' caps, db/due-marks.ts): the marker holds one of the times.
    if (inject('mongoIsFerret')) expect(times.map(Number)).toContain(at!.getTime());
    else expect(at).toEqual(new Date(base));
    // Once it exists, a lower is kept.
    await lowerDue(name, new Date(base - 1_000));
    expect((await readDue(name)).at).toEqual(new Date(base - 1_000));
  }
});

it('when 16 officer-task writers lower the notifier\'s marker that does not exist yet, all at once, then each succeeds', async () => {
  for (let round = 0; round < 10; round++) {
    await OpenTaskMarkModel.deleteMany({});
    const at = new Date(Date.parse('2026-06-01T02:00:00.000Z') + round * 1_000);
    const results = await Promise.allSettled(Array.from({ length: 16 }, () => lowerNotifierDue(at)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failed.map((r) => String(r.reason)), `round ${round + 1}`).toEqual([]);
    expect((await OpenTaskMarkModel.find({}).lean()).map((m) => m.at)).toEqual([at]);
  }
});
