// The tracking room's services, built once by context.ts. What the engine uses:
//   tracking.rollups.batchesWritten(batchIds)  after every write of delivery batches
//   tracking.link(target)                       the tracked URL for a group's card
import type { AuditService } from '../audit/service.js';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import type { RegionService } from '../regions/service.js';
import { ClickService } from './clicks.js';
import { ExportService } from './exports.js';
import { type LinkTarget, trackedLink } from './links.js';
import { ProgressService } from './progress.js';
import { ReachRollups } from './rollups.js';
import { LinkSecret } from './secret.js';
import { ReachStats } from './stats.js';

export interface Tracking {
  secret: LinkSecret;
  rollups: ReachRollups;
  stats: ReachStats;
  progress: ProgressService;
  clicks: ClickService;
  exports: ExportService;
  /** Tracked URL for one group's card (no database write). */
  link(target: LinkTarget): string;
}

export function createTracking(
  config: Config,
  clock: Clock,
  regions: RegionService,
  audit: AuditService,
  villageOfGroup?: (groupId: string) => Promise<string | null>,
): Tracking {
  const secret = new LinkSecret(config.linkSecret);
  const stats = new ReachStats(regions);
  const clicks = new ClickService(clock, config.timeZone, () => secret.get(), villageOfGroup);
  return {
    secret,
    rollups: new ReachRollups(clock),
    stats,
    progress: new ProgressService(regions, clock),
    clicks,
    exports: new ExportService(regions, stats, clicks, audit),
    link: (target) => trackedLink(config.publicBaseUrl, target, secret.get()),
  };
}
