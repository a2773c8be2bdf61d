// A process keeps its database after the server drops every connection at once (what a
// restart of FerretDB or MongoDB does to a client). CI found engine-processes (c) stuck: after
// the database restart its workers never reconnected. The driver's server monitor had started
// its check on a socket that was already destroyed (its 'close' event still to come); a write
// there waits for a 'drain' that never comes, so the monitor never checked again and every
// operation failed server selection forever (patches/mongodb+*.patch, docs/ferretdb.md).
//
// A TCP relay stands between the client and the suite's database server; closing every
// relayed connection is the restart as the client sees it, without the seconds a real
// restart takes, so a handful of rounds meet the race (the unpatched driver stuck in the
// first to sixth round of ten, five runs of five).
import { type Server, type Socket, connect, createServer } from 'node:net';
import { MongoClient } from 'mongodb';
import mongoose from 'mongoose';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { connectDatabase, type Database } from '../../src/db/connection.js';
import { uniqueDbName, withDatabase } from '../helpers/app.js';

const ROUNDS = 8;
/** A check of the monitor is requested at most every 500 ms (minHeartbeatFrequencyMS): rounds are further apart. */
const GAP_MS = 1_000;
/** Long enough for a loaded machine to reconnect; a stuck client never does (its operations wait out server selection, 10 s). */
const RECOVER_MS = 25_000;

let relay: Server;
const relayed = new Set<Socket>();
let db: Database;
const Probe = mongoose.model('ReconnectProbe', new mongoose.Schema({ _id: String, n: Number }, { versionKey: false }));

/** Relays 127.0.0.1:<free port> to the database server; `dropAll` closes every relayed connection. */
async function startRelay(target: { host: string; port: number }): Promise<number> {
  relay = createServer((client) => {
    const server = connect(target.port, target.host);
    relayed.add(client).add(server);
    const end = () => {
      relayed.delete(client);
      relayed.delete(server);
      client.destroy();
      server.destroy();
    };
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
    client.pipe(server).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return (relay.address() as { port: number }).port;
}

function dropAll(): void {
  for (const socket of [...relayed]) socket.destroy();
}

/**
 * The server the relay forwards to: the suite's FerretDB, or with MONGODB_URI the replica set's
 * primary (the client talks to the relay alone, `directConnection`, so it must accept writes).
 */
async function serverBehind(uri: string, hosts: string): Promise<{ host: string; port: number }> {
  let address = hosts.split(',')[0]!;
  if (!inject('mongoIsFerret')) {
    const client = await new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 }).connect();
    address = (await client.db('admin').command({ hello: 1 })).primary ?? address;
    await client.close();
  }
  const [host, port] = address.split(':');
  return { host: host!, port: Number(port ?? 27017) };
}

beforeAll(async () => {
  const serverUri = inject('mongoServerUri');
  const hosts = /^mongodb:\/\/(?:[^@/]*@)?([^/?]+)/.exec(serverUri)?.[1];
  if (!hosts) throw new Error(`the relay needs a mongodb:// URI with hosts, not ${serverUri.split('@').pop()}`);
  const port = await startRelay(await serverBehind(serverUri, hosts));
  // The suite's URI (credentials and options kept) with the relay for its hosts.
  const viaRelay = withDatabase(serverUri.replace(hosts, `127.0.0.1:${port}`), uniqueDbName());
  db = await connectDatabase(`${viaRelay}${viaRelay.includes('?') ? '&' : '?'}directConnection=true`, {
    ferret: inject('mongoIsFerret'),
  });
});

afterAll(async () => {
  await db?.close();
  relay?.close();
  dropAll();
});

it(`when the database server drops every connection, ${ROUNDS} times, then each time the process reads and writes again`, async () => {
  // Several operations in flight, as in a worker: their failures are what ask the monitor to check.
  let stopping = false;
  const load = Array.from({ length: 8 }, async (_, lane) => {
    for (let i = 0; !stopping; i++) {
      await Promise.all([
        Probe.updateOne({ _id: `${lane}-${i % 20}` }, { $set: { n: i } }, { upsert: true }),
        Probe.find({}).limit(3).lean(),
      ]).catch(() => new Promise((resolve) => setTimeout(resolve, 10)));
    }
  });
  const recovered: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await new Promise((resolve) => setTimeout(resolve, GAP_MS));
      dropAll();
      const dropped = Date.now();
      let back = false;
      while (!back && Date.now() - dropped < RECOVER_MS) {
        back = await Probe.updateOne({ _id: 'probe' }, { $set: { n: round } }, { upsert: true }).then(
          () => true,
          () => new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20)),
        );
      }
      expect(back, `round ${round + 1}: no operation succeeded within ${RECOVER_MS / 1000} s of the drop`).toBe(true);
      recovered.push(Date.now() - dropped);
    }
  } finally {
    stopping = true;
    await Promise.allSettled(load);
  }
  expect(recovered).toHaveLength(ROUNDS);
  expect(await Probe.findById('probe').lean()).toMatchObject({ n: ROUNDS - 1 });
}, 300_000);
