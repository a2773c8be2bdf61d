// node --import tsx bench/wecom-scan-cost.ts --dir=/dev/shm/<copy of a bench:province world>/jingxun-province-<groups>-<campaigns> [--others=N] [--groups=G] [--backfills]
// The WeCom customer-group service's reads at province scale (eleventh session, wecom), each
// with its wall time, FerretDB's CPU and its commands by shape (command, collection, filter
// keys), while N tasks and N items of other campaigns lie in `wecomgrouptasks` and
// `wecomgroupitems` (written straight in: the world's campaigns use robots):
// - one group queued (`enqueue`: its receive cap counted);
// - the creation of one owner's task of G groups (`flush`: add_msg_template at the WeCom double);
// - the owner's reminder (`remind`), the run report (`report`);
// - the recording of what WeCom reports sent (`poll` after the owner sent);
// - with --backfills, the one-time listings of an older install over those N tasks and items.
// Its own service over the world's database, the WeCom double and a clock it moves (no settle
// wait). Writes: use a copy of the world.
import mongoose from 'mongoose';
import { CustomerGroupDouble } from '../src/channels/doubles/wecom-customer-groups.js';
import { WecomApiClient } from '../src/channels/wecom-group/api.js';
import { WecomItemModel, WecomTaskModel } from '../src/channels/wecom-group/model.js';
import { DEFAULT_WECOM_GROUP_SETTINGS, WecomGroupService } from '../src/channels/wecom-group/service.js';
import { fixedClock } from '../src/lib/clock.js';
import { Outbound } from '../src/channels/outbound.js';
import { flag } from './proc.js';
import { commandMeter } from './command-meter.js';
import { openWorldCopy } from './world-copy.js';

const log = (line: string) => process.stdout.write(`[bench:wecom-scan-cost] ${line}\n`);

const CORP = 'wwbenchcounty0001';
const SECRET = 'bench-customer-contact-app-secret';
const COUNTY = '440106';
const OWNER = 'bench-owner';

async function main() {
  const others = flag('others', 20_000);
  const groups = flag('groups', 25);
  const { ctx, ferretPid, prepareMs, close } = await openWorldCopy({ monitorCommands: true });
  const clock = fixedClock(new Date().toISOString());
  const double = await new CustomerGroupDouble({ clock }).start();
  try {
    log(`prepareDatabase ${prepareMs} ms`);
    const measure = commandMeter(ferretPid, log);

    // Other campaigns' finished tasks, one item each (50 campaigns).
    const started = performance.now();
    const at = clock.now();
    const campaigns = Array.from({ length: 50 }, () => new mongoose.Types.ObjectId().toHexString());
    for (let i = 0; i < others; i += 1000) {
      const n = Math.min(1000, others - i);
      const run = (j: number) => `${campaigns[j % 50]}@${at.toISOString()}`;
      await WecomTaskModel.insertMany(
        Array.from({ length: n }, (_, k) => ({
          _id: `${run(i + k)}|${COUNTY}|other-${i + k}|1`,
          occurrenceId: run(i + k),
          campaignId: run(i + k).split('@')[0],
          countyCode: COUNTY,
          ownerUserId: `other-${i + k}`,
          itemIds: [`${run(i + k)}/other-${i + k}`],
          state: 'sent',
          createdAt: at,
        })),
      );
      await WecomItemModel.insertMany(
        Array.from({ length: n }, (_, k) => ({
          _id: `${run(i + k)}/other-${i + k}`,
          occurrenceId: run(i + k),
          campaignId: run(i + k).split('@')[0],
          countyCode: COUNTY,
          ownerUserId: `other-${i + k}`,
          chatId: `other-chat-${i + k}`,
          groupId: `other-${i + k}`,
          groupName: '其他群',
          regionPath: [],
          period: 'old',
          state: 'sent',
          createdAt: at,
        })),
      );
    }
    log(`wrote ${others} other tasks and items in ${Math.round(performance.now() - started)} ms`);

    double.addCorp(CORP, SECRET);
    const chats = Array.from({ length: groups }, (_, i) => `wrBenchChat${String(i).padStart(4, '0')}`);
    for (const chatId of chats)
      double.addChat(CORP, { chatId, name: chatId, owner: OWNER, members: [{ userid: OWNER, type: 1 }, { userid: `wm${chatId}`, type: 2 }] });
    const service = new WecomGroupService(
      ctx.secrets,
      new WecomApiClient({ baseUrl: double.url, outbound: new Outbound(['127.0.0.1']), timeoutMs: 10_000, clock }),
      clock,
      { ...DEFAULT_WECOM_GROUP_SETTINGS, settleMs: 0 },
    );
    await service.setApp(COUNTY, { corpId: CORP, secret: SECRET }, 'bench');

    const campaignId = new mongoose.Types.ObjectId().toHexString();
    const runAt = clock.now().toISOString();
    const target = (i: number) => ({
      groupId: `bench-group-${i}`,
      groupName: `平安群${i}`,
      regionPath: ['000000', '440000', '440100', COUNTY],
      officer: { name: '民警', phone: null },
      credentials: { kind: 'wecom_group' as const, countyCode: COUNTY, chatId: chats[i]!, ownerUserId: OWNER },
    });
    const message = { type: 'text' as const, card: { format: 'text' as const, title: '通告', content: '请注意防范电信诈骗', url: '', pictureUrl: null } };
    await measure('enqueue of one group', () => service.enqueue(target(0), message, `${campaignId}@${runAt}/bench-group-0`));
    for (let i = 1; i < groups; i++) await service.enqueue(target(i), message, `${campaignId}@${runAt}/bench-group-${i}`);
    clock.advance(1000);
    await measure(`flush: one owner's task of ${groups} groups created`, () => service.flush());
    const taskId = `${campaignId}@${runAt}|${COUNTY}|${OWNER}|1`;
    await measure('remind of the task', () => service.remind([taskId]));
    let reported = 0;
    await measure('report of the campaign', async () => {
      reported = (await service.report(campaignId)).reduce((n, t) => n + t.groups.length, 0);
    });
    log(`  (report: ${reported} groups)`);
    double.confirm(OWNER);
    clock.advance(61_000);
    await measure('poll recording the sent task', () => service.poll());
    if (process.argv.includes('--backfills')) {
      // The one-time listings of an older install, run again over the N other tasks and items.
      const { BackfillModel } = await import('../src/db/backfills.js');
      const { buildWecomCampaignTasks } = await import('../src/channels/wecom-group/campaign-tasks.js');
      const { buildWecomCapSends } = await import('../src/channels/wecom-group/cap-sends.js');
      await BackfillModel.deleteMany({ _id: { $in: ['wecom-group-campaign-tasks', 'wecom-group-cap-sends'] } });
      await measure('backfill wecom-group-campaign-tasks', () => buildWecomCampaignTasks());
      await measure('backfill wecom-group-cap-sends', () => buildWecomCapSends(clock.now()));
    }
  } finally {
    await double.close();
    await close();
  }
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    process.stderr.write(`bench:wecom-scan-cost failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
