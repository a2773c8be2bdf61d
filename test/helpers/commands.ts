// Counts the commands the driver sends while a piece of work runs (a command monitor on the
// test app's connection, test/helpers/app.ts): which collections a read touches and with what
// filter, without timing anything.
import mongoose from 'mongoose';
import type { CommandStartedEvent } from 'mongodb';

export interface SeenCommand {
  name: string;
  collection: string;
  /** The command's filter (of its first statement, for an update or a delete). */
  filter: Record<string, unknown> | null;
  /** The filters of all its statements (every update's and delete's, a find's, a count's). */
  statements: Record<string, unknown>[];
  /** The `_id`s of the documents an insert writes. */
  ids: unknown[];
  /** A find's projection (null: the whole documents). */
  projection: Record<string, unknown> | null;
}

/** The collection a command names (`find: 'deliverybatches'`, `getMore` names it too). */
function collectionOf(event: CommandStartedEvent): string {
  const value = event.command[event.commandName];
  if (event.commandName === 'getMore') return String(event.command.collection ?? '');
  return typeof value === 'string' ? value : '';
}

/** Every command sent while `work` runs (other work running meanwhile is seen too). */
export async function commandsDuring(work: () => Promise<unknown>): Promise<SeenCommand[]> {
  const client = mongoose.connection.getClient();
  const seen: SeenCommand[] = [];
  const listener = (event: CommandStartedEvent) => {
    const command = event.command as Record<string, unknown>;
    const filter =
      (command.filter as Record<string, unknown> | undefined) ??
      (command.query as Record<string, unknown> | undefined) ??
      (command.updates as { q?: Record<string, unknown> }[] | undefined)?.[0]?.q ??
      (command.deletes as { q?: Record<string, unknown> }[] | undefined)?.[0]?.q;
    const statements = [
      ...((command.updates as { q: Record<string, unknown> }[] | undefined) ?? []).map((u) => u.q),
      ...((command.deletes as { q: Record<string, unknown> }[] | undefined) ?? []).map((d) => d.q),
      ...(command.filter ? [command.filter as Record<string, unknown>] : []),
      ...(command.query ? [command.query as Record<string, unknown>] : []),
    ];
    const ids = ((command.documents as { _id: unknown }[] | undefined) ?? []).map((doc) => doc._id);
    const projection = (command.projection as Record<string, unknown> | undefined) ?? null;
    seen.push({ name: event.commandName, collection: collectionOf(event), filter: filter ?? null, statements, ids, projection });
  };
  client.on('commandStarted', listener);
  try {
    await work();
  } finally {
    client.off('commandStarted', listener);
  }
  return seen;
}

/** Whether a filter picks documents by one `_id` value only (FerretDB answers it from its index). */
export function byIdOnly(filter: Record<string, unknown> | null): boolean {
  if (!filter) return false;
  const keys = Object.keys(filter);
  return keys.length === 1 && keys[0] === '_id' && (typeof filter._id === 'string' || !isOperator(filter._id));
}

function isOperator(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).some((k) => k.startsWith('$'));
}

/** One call mongoose made to the driver: `collection`, `method` and the call's arguments (filter first). */
export interface DriverCall {
  collection: string;
  method: string;
  args: unknown[];
}

/**
 * Every driver call mongoose makes while `work` runs, seen through its debug hook (which sees
 * every call of every model, but not the driver's own `getMore`s: use `commandsDuring` for those).
 */
export async function driverCallsDuring(work: () => Promise<unknown>): Promise<DriverCall[]> {
  const seen: DriverCall[] = [];
  mongoose.set('debug', (collection: string, method: string, ...args: unknown[]) => {
    seen.push({ collection, method, args });
  });
  try {
    await work();
  } finally {
    mongoose.set('debug', false);
  }
  return seen;
}

/** The driver calls made while `work` runs, counted by `collection.method`. */
export async function callCountsDuring(work: () => Promise<unknown>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { collection, method } of await driverCallsDuring(work)) {
    const key = `${collection}.${method}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** How many of the counted calls have a `collection.method` starting with `prefix`. */
export function callsTo(counts: Map<string, number>, prefix: string): number {
  return [...counts].filter(([key]) => key.startsWith(prefix)).reduce((sum, [, n]) => sum + n, 0);
}

/** Whether a filter picks one document by an `_id` equality (a string or an ObjectId), whatever else it names. */
export function byIdEquality(filter: unknown): boolean {
  const id = (filter as { _id?: unknown } | null | undefined)?._id;
  return typeof id === 'string' || id instanceof mongoose.Types.ObjectId;
}
