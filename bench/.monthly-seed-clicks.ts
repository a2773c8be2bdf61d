// One-off (not committed): adds old-layout clicks (no intent) to a bench world copy.
import { resolve, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { startFerretDb } from '../src/db/ferretdb.js';

const dir = process.env.SEED_WORLD!;
const total = Number(process.env.SEED_CLICKS ?? 300000);
const ferret = await startFerretDb({ binary: resolve('.tools/bin/ferretdb'), dataDir: join(dir, 'db') });
await mongoose.connect(`${ferret.uri}/province`);
const db = mongoose.connection.db!;
const townships = (await db.collection('regions').find({ level: 'township' }, { projection: { code: 1 } }).toArray()).map((r) => r.code as string);
const campaigns = (await db.collection('campaigns').find({}, { projection: { _id: 1, noticeId: 1 } }).toArray());
console.log('townships', townships.length, 'campaigns', campaigns.length, 'clicks before', await db.collection('clicks').countDocuments());
const now = Date.now();
let done = 0;
while (done < total) {
  const docs = [];
  for (let i = 0; i < 5000 && done < total; i++, done++) {
    const at = new Date(now - Math.random() * 60 * 86400_000);
    const day = at.toISOString().slice(0, 10);
    const c = campaigns[Math.floor(Math.random() * campaigns.length)]!;
    docs.push({
      _id: `${randomBytes(16).toString('base64url')}#0`,
      campaignId: String(c._id),
      groupId: randomBytes(12).toString('hex'),
      noticeId: String(c.noticeId),
      townshipCode: townships[Math.floor(Math.random() * townships.length)]!,
      day,
      month: day.slice(0, 7),
      first: Math.random() < 0.6,
      at,
    });
  }
  await db.collection('clicks').insertMany(docs as never[], { ordered: false });
}
console.log('clicks after', await db.collection('clicks').countDocuments());
await mongoose.disconnect();
await ferret.stop();
