// Counts the commands the driver sends while a piece of work runs (a command monitor on the
// test app's connection, test/helpers/app.ts): which collections a read touches and with what
// filter, without timing anything.
import mongoose from 'mongoose';
import type { CommandStartedEvent } from 'mongodb';

export interface SeenCommand {
  name: string;
  collection: string;
  filter: Record<string, unknown> | null;
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
    seen.push({ name: event.commandName, collection: collectionOf(event), filter: filter ?? null });
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
