// The cost benches' meter (bench/scan-cost.ts, bench/wecom-scan-cost.ts; bench/click-burst.ts its shapes): a piece of work's wall
// time, FerretDB's CPU and the commands it sent, grouped by shape (command, collection, filter
// keys; `_id:$in` told apart from an `_id` equality, the difference FerretDB 1.24 scans on).
import type { CommandStartedEvent } from 'mongodb';
import mongoose from 'mongoose';
import { cpuSecondsOf } from './proc.js';

/** A command's shape: `<command> <collection> {<filter keys>}`. */
export function shapeOf(event: CommandStartedEvent): string {
  const command = event.command as Record<string, unknown>;
  const filter = (command.filter ??
    command.query ??
    (command.updates as { q?: unknown }[] | undefined)?.[0]?.q ??
    (command.deletes as { q?: unknown }[] | undefined)?.[0]?.q ??
    null) as Record<string, unknown> | null;
  const id = filter?._id;
  const idShape =
    id === undefined
      ? ''
      : typeof id === 'object' && id !== null && !('_bsontype' in id)
        ? `_id:${Object.keys(id)}`
        : '_id';
  const keys = filter ? Object.keys(filter).map((k) => (k === '_id' ? idShape : k)) : [];
  return `${event.commandName} ${String(command[event.commandName] ?? command.collection)} {${keys.join(',')}}`;
}

/** Returns `measure(label, work)`: runs the work and logs its time, CPU and top command shapes. */
export function commandMeter(ferretPid: number, log: (line: string) => void) {
  const shapes = new Map<string, number>();
  let counting = false;
  mongoose.connection.getClient().on('commandStarted', (event: CommandStartedEvent) => {
    if (!counting) return;
    const key = shapeOf(event);
    shapes.set(key, (shapes.get(key) ?? 0) + 1);
  });
  return async function measure(label: string, work: () => Promise<unknown>): Promise<void> {
    shapes.clear();
    counting = true;
    const before = cpuSecondsOf(ferretPid);
    const t = performance.now();
    await work();
    const ms = Math.round(performance.now() - t);
    counting = false;
    const ferretMs = Math.round((cpuSecondsOf(ferretPid) - before) * 1000);
    const total = [...shapes.values()].reduce((a, b) => a + b, 0);
    log(`${label}: ${ms} ms, FerretDB ${ferretMs} ms CPU, ${total} commands`);
    for (const [shape, n] of [...shapes].sort((a, b) => b[1] - a[1]).slice(0, 8))
      log(`  ${String(n).padStart(5)} × ${shape}`);
  };
}
