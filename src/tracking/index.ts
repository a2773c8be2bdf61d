// The tracking room's services, built once by context.ts. What the engine uses:
//   tracking.rollups.batchesWritten(batchIds)  after every write of delivery batches
//   tracking.link(target)                       the short tracked URL for a group's card (stored once)
import type { AuditService } from '../audit/service.js';
import type { KeptOpenCounts } from '../channels/manual/kept-open-counts.js';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import type { RegionService } from '../regions/service.js';
import { ClickTallyBackfill } from './click-backfill.js';
import { ClickService } from './clicks.js';
import { ExportService } from './exports.js';
import { decodeTrackedCode, type LinkTarget } from './links.js';
import { OpenTaskCounter } from './open-tasks.js';
import { ProgressService } from './progress.js';
import { RankTally } from './rank-tally.js';
import { RankingService } from './rankings.js';
import { ReachRollups } from './rollups.js';
import { LinkSecret } from './secret.js';
import { ShortLinks } from './short-links.js';
import { ReachStats } from './stats.js';

export interface Tracking {
  secret: LinkSecret;
  rollups: ReachRollups;
  stats: ReachStats;
  rankings: RankingService;
  progress: ProgressService;
  clicks: ClickService;
  exports: ExportService;
  shortLinks: ShortLinks;
  /** Short tracked URL for a card (`PUBLIC_BASE_URL/t/<8 characters>`), stored on first use. */
  link(target: LinkTarget): Promise<string>;
  /** What a /t/ code was made for: a short code, or a long signed code of links already sent. */
  resolve(code: string): Promise<LinkTarget | null>;
}

export function createTracking(
  config: Config,
  clock: Clock,
  regions: RegionService,
  audit: AuditService,
  villageOfGroup?: (groupId: string) => Promise<string | null>,
  /** The process's kept open-task county documents (context.ts shares one with the workbench and the open list). */
  openCounts?: KeptOpenCounts,
): Tracking {
  const secret = new LinkSecret(config.linkSecret);
  const stats = new ReachStats(regions);
  const clicks = new ClickService(clock, config.timeZone, () => secret.get(), villageOfGroup);
  const shortLinks = new ShortLinks(
    () => secret.get(),
    () => clock.now(),
  );
  const rollups = new ReachRollups(clock);
  // The rankings' tallies are folded by the roll-up lease's holder, with each refresh.
  rollups.foldRankings(new RankTally(config.timeZone));
  // Clicks whose writers died are tallied by the same holder (click-tally.ts).
  rollups.repairClicks((now) => clicks.repairTallies(now));
  // An install's clicks counted before the tallies: backfilled by the same holder, a slice per refresh.
  rollups.backfillClicks(new ClickTallyBackfill());
  const base = config.publicBaseUrl.replace(/\/+$/, '');
  return {
    secret,
    rollups,
    stats,
    rankings: new RankingService(regions),
    progress: new ProgressService(regions, clock),
    clicks,
    exports: new ExportService(regions, stats, clicks, audit, new OpenTaskCounter(clock, config.timeZone, openCounts)),
    shortLinks,
    link: async (target) => `${base}/t/${await shortLinks.code(target)}`,
    resolve: async (code) => (await shortLinks.resolve(code)) ?? decodeTrackedCode(code, secret.get()),
  };
}
