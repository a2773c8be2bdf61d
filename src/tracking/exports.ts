// Exports staff report upward: a campaign's deliveries, and the monthly table per township
// (messages, groups, person-times, clicks). Each export is audited.
import type { AuditService } from '../audit/service.js';
import type { Principal } from '../auth/principal.js';
import { CHANNEL_KINDS, CHANNEL_LABELS, type ChannelKind } from '../channels/kinds.js';
import { InvalidInput } from '../lib/errors.js';
import { CATEGORY_LABELS, type Category } from '../notices/categories.js';
import type { RegionService } from '../regions/service.js';
import { withFixedItems } from './batch-fixed.js';
import { visibleCampaign } from './campaign-lookup.js';
import type { ClickService } from './clicks.js';
import type { BatchItem } from './model.js';
import type { OpenTaskCounter } from './open-tasks.js';
import { RegionNames } from './region-names.js';
import { eachBatchOf } from './run-batches.js';
import { openSheet, type SheetFormat, type SheetWriter } from './sheet.js';
import type { ReachReport, ReachStats } from './stats.js';

export const STATUS_LABELS: Record<string, string> = {
  pending: '排队中',
  sending: '发送中',
  sent: '已发送',
  failed: '失败',
  uncertain: '不确定',
  awaiting: '待民警转发',
  confirmed: '民警已确认',
  skipped: '已跳过',
};

export const DELIVERY_HEADERS = [
  '运行日期',
  '乡镇代码',
  '乡镇',
  '村/社区代码',
  '村/社区',
  '群ID',
  '群名称',
  '渠道',
  '成员数',
  '状态',
  '尝试次数',
  '发送时间',
  '最后错误',
];

/** The monthly table's columns, in the glossary's words (CONSOLE.md); the screen shows the same. */
export const MONTHLY_HEADERS = [
  '乡镇（街道）',
  '发送消息数',
  '触达群数',
  '触达村数',
  '受教育人次',
  '待民警转发',
  '点击次数',
  '独立访客',
];
/** The category breakdown under it (clicks are counted per township, not per category). */
export const CATEGORY_HEADERS = ['类别', '发送消息数', '触达群数', '触达村数', '受教育人次', '待民警转发'];
export const TOTAL_LABEL = '合计';
/** The channel breakdown: 发送消息数 of each row by channel, then their 合计 (the row's 发送消息数). */
export const CHANNEL_TABLE_TITLE = '发送消息数按渠道';
export const channelHeaders = (channels: { channelLabel: string }[]) => [
  '乡镇（街道）',
  ...channels.map((c) => c.channelLabel),
  TOTAL_LABEL,
];

export interface MonthlyFigures {
  messages: number;
  groupsReached: number;
  villagesReached: number;
  personTimes: number;
  /**
   * Posts the officers have yet to make (manual deliveries awaiting their confirmation): not
   * counted in 发送消息数 until confirmed (issue 20, defect 13).
   */
  awaitingOfficers: number;
  /** 发送消息数 by channel, in the order of the report's `channels`; sums to `messages`. */
  channelMessages: number[];
}

export interface MonthlyRow extends MonthlyFigures {
  townshipCode: string;
  townshipName: string;
  clicks: number;
  /** Visitors counted once per township and month (summed over the months of a quarter or year). */
  uniqueClicks: number;
}

export interface MonthlyReport {
  /** YYYY-MM, YYYY-Qn or YYYY. */
  period: string;
  /** 2026年12月 / 2026年第4季度 / 2026年 */
  periodLabel: string;
  from: string;
  to: string;
  regionCode: string;
  regionName: string;
  /** The channels delivered by in the period and region (CHANNEL_KINDS order), the columns of the breakdown. */
  channels: { channel: string; channelLabel: string }[];
  rows: MonthlyRow[];
  total: MonthlyFigures & { clicks: number; uniqueClicks: number };
  categories: (MonthlyFigures & { category: string; categoryLabel: string })[];
}

const PERIOD = /^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$/;

/** The months of a period: a month, a quarter (YYYY-Qn) or a year (YYYY). */
export function periodRange(period: string): { from: string; to: string; label: string } {
  const match = PERIOD.exec(period);
  if (!match) throw new InvalidInput('统计期应为月份（2026-12）、季度（2026-Q4）或年份（2026）', 'period');
  const [, year, month, quarter] = match;
  if (month) return { from: period, to: period, label: `${year}年${Number(month)}月` };
  if (quarter) {
    const last = Number(quarter) * 3;
    const pad = (n: number) => String(n).padStart(2, '0');
    return { from: `${year}-${pad(last - 2)}`, to: `${year}-${pad(last)}`, label: `${year}年第${quarter}季度` };
  }
  return { from: `${year}-01`, to: `${year}-12`, label: `${year}年` };
}

function monthsOf(from: string, to: string): string[] {
  const out: string[] = [];
  let [y, m] = from.split('-').map(Number) as [number, number];
  for (;;) {
    const key = `${y}-${String(m).padStart(2, '0')}`;
    out.push(key);
    if (key >= to) return out;
    m += 1;
    if (m > 12) {
      m = 1;
      y += 1;
    }
  }
}

type ReachRowFigures = Omit<MonthlyFigures, 'awaitingOfficers' | 'channelMessages'> & {
  awaiting?: number;
  channels?: Record<string, number>;
};

const figuresIn =
  (channels: readonly string[]) =>
  (r: ReachRowFigures): MonthlyFigures => ({
    messages: r.messages,
    groupsReached: r.groupsReached,
    villagesReached: r.villagesReached,
    personTimes: r.personTimes,
    awaitingOfficers: r.awaiting ?? 0,
    channelMessages: channels.map((channel) => r.channels?.[channel] ?? 0),
  });

/** The channels of a report's figures, in the console's order (CHANNEL_KINDS), unknown ones last. */
function channelsOf(channels: Record<string, number>): string[] {
  const order = (channel: string) => {
    const at = (CHANNEL_KINDS as readonly string[]).indexOf(channel);
    return at < 0 ? CHANNEL_KINDS.length : at;
  };
  return Object.keys(channels).sort((a, b) => order(a) - order(b) || (a < b ? -1 : a > b ? 1 : 0));
}

export interface ExportFile {
  filename: string;
  format: SheetFormat;
  writer: SheetWriter;
  /** Fills the sheet; the route streams `writer.stream` while this runs. */
  done: Promise<void>;
}

export class ExportService {
  private readonly names = new RegionNames();

  constructor(
    private readonly regions: RegionService,
    private readonly stats: ReachStats,
    private readonly clicks: ClickService,
    private readonly audit: AuditService,
    private readonly openTasks: OpenTaskCounter,
  ) {}

  /** The table reported upward for a month, quarter or year: per township, 合计, by category. */
  async monthlyTable(by: Principal, period: string, regionCode?: string): Promise<MonthlyReport> {
    const { from, to, label } = periodRange(period);
    const query = { from, to, regionCode };
    // One read of the roll-ups for both breakdowns.
    const [report, byCategory] = (await this.stats.reports(by.scope, query, [['township'], ['category']])) as [
      ReachReport,
      ReachReport,
    ];
    const codes = report.rows.map((row) => row.townshipCode!);
    // A township whose cards were opened but whose sends are not (yet) in the reach figures
    // (an officer has not confirmed a forwarded card, the roll-up is behind) still shows its
    // clicks: listing only townships with counted sends hid every click of such a township.
    const reported = new Set(codes);
    const within = regionCode ?? by.scope.regionCode;
    const months = monthsOf(from, to);
    // The clicks of the region's townships (click-tally.ts: one `_id` read per month).
    const clicked = await this.clicks.inRegion(months, within);
    // Those in the scope and under the table's region (one read of the regions' token).
    const clickedOnly = [
      ...(await this.regions.existingIn(
        by.scope,
        [...clicked.keys()].filter((code) => !reported.has(code)),
        within,
      )),
    ];
    const shown = [...codes, ...clickedOnly];
    const clicks = new Map<string, { clicks: number; uniqueClicks: number }>(
      shown.map((c) => [c, clicked.get(c) ?? { clicks: 0, uniqueClicks: 0 }]),
    );
    const channels = channelsOf(report.totals.channels);
    const figures = figuresIn(channels);
    const rows: MonthlyRow[] = [];
    const zero = { messages: 0, groupsReached: 0, villagesReached: 0, personTimes: 0, awaiting: 0 };
    const base = report.regionCode;
    // One names read for every row and the region (kept while the regions do not change).
    const names = await this.names.of([...shown, base]);
    for (const row of [...report.rows, ...clickedOnly.sort().map((townshipCode) => ({ townshipCode, ...zero }))]) {
      const code = row.townshipCode!;
      rows.push({
        townshipCode: code,
        townshipName: names.get(code) ?? code,
        ...figures(row),
        clicks: clicks.get(code)?.clicks ?? 0,
        uniqueClicks: clicks.get(code)?.uniqueClicks ?? 0,
      });
    }
    // 待民警转发 counts the tasks still to forward now (the roll-ups count every delivery
    // left awaiting, also of withdrawn campaigns and expired tasks).
    // Counted per township and category from each county's kept summary (open-tasks.ts): a
    // call's work is the runs and townships, not the ~36,000 open tasks of a province admin.
    const open = await this.openTasks.counts(by.scope, within, from, to);
    const openByTownship = open.byTownship;
    const openByCategory = open.byCategory;
    for (const row of rows) row.awaitingOfficers = openByTownship.get(row.townshipCode) ?? 0;
    return {
      period,
      periodLabel: label,
      from,
      to,
      regionCode: base,
      regionName: names.get(base) ?? base,
      channels: channels.map((channel) => ({
        channel,
        channelLabel: CHANNEL_LABELS[channel as ChannelKind] ?? channel,
      })),
      rows,
      total: {
        ...figures(report.totals),
        awaitingOfficers: open.total,
        clicks: rows.reduce((n, r) => n + r.clicks, 0),
        uniqueClicks: rows.reduce((n, r) => n + r.uniqueClicks, 0),
      },
      categories: byCategory.rows.map((row) => ({
        category: row.category!,
        categoryLabel: CATEGORY_LABELS[row.category as Category] ?? row.category!,
        ...figures(row),
        awaitingOfficers: openByCategory.get(row.category!) ?? 0,
      })),
    };
  }

  /**
   * The file is the screen: the same rows, the 合计 row, then the category breakdown and its
   * 合计, then 发送消息数 by channel per township and its 合计.
   */
  async exportMonthly(
    by: Principal,
    period: string,
    format: SheetFormat,
    regionCode: string | undefined,
    ip: string | null,
  ): Promise<ExportFile> {
    const table = await this.monthlyTable(by, period, regionCode);
    await this.audit.record({
      actor: by,
      action: 'reach.export_monthly',
      ip,
      details: { period, format, regionCode: table.regionCode, rows: table.rows.length },
    });
    const reach = (r: MonthlyFigures) => [
      r.messages,
      r.groupsReached,
      r.villagesReached,
      r.personTimes,
      r.awaitingOfficers,
    ];
    const writer = openSheet(format, table.periodLabel, MONTHLY_HEADERS);
    const done = (async () => {
      for (const r of table.rows) await writer.row([r.townshipName, ...reach(r), r.clicks, r.uniqueClicks]);
      await writer.row([TOTAL_LABEL, ...reach(table.total), table.total.clicks, table.total.uniqueClicks]);
      await writer.row([]);
      await writer.row(CATEGORY_HEADERS);
      for (const c of table.categories) await writer.row([c.categoryLabel, ...reach(c)]);
      await writer.row([TOTAL_LABEL, ...reach(table.total)]);
      await writer.row([]);
      await writer.row([CHANNEL_TABLE_TITLE]);
      await writer.row(channelHeaders(table.channels));
      const byChannel = (r: MonthlyFigures) => [...r.channelMessages, r.messages];
      for (const r of table.rows) await writer.row([r.townshipName, ...byChannel(r)]);
      await writer.row([TOTAL_LABEL, ...byChannel(table.total)]);
      await writer.end();
    })();
    return { filename: `月度统计表-${table.regionName}-${table.periodLabel}.${format}`, format, writer, done };
  }

  async exportDeliveries(
    by: Principal,
    campaignId: string,
    format: SheetFormat,
    ip: string | null,
  ): Promise<ExportFile> {
    const campaign = await visibleCampaign(this.regions, by.scope, campaignId);
    await this.audit.record({
      actor: by,
      action: 'campaign.export_deliveries',
      target: { kind: 'campaign', id: campaignId },
      ip,
      details: { format, title: campaign.title },
    });
    const writer = openSheet(format, '发送明细', DELIVERY_HEADERS);
    const done = (async () => {
      // A few batches (≤ 100 rows each) in memory at a time, however big the campaign.
      // The campaign's own batches by `_id`, a window at a time (tracking/run-batches.ts).
      const batches = eachBatchOf<{
        regionPath: string[];
        items: BatchItem[];
        day: string;
        townshipCode: string;
        fixedId?: string | null;
      }>(campaignId, { regionPath: 1, items: 1, day: 1, townshipCode: 1, fixedId: 1 }, (path) =>
        by.scope.contains(path),
      );
      for await (const read of batches) {
        // Names of the packed layout are in the batch's packed part (tracking/batch-fixed.ts).
        const batch = await withFixedItems(read);
        for (const item of batch.items) {
          await writer.row([
            batch.day,
            batch.townshipCode,
            item.townshipName || '',
            item.villageCode,
            item.villageName || '',
            item.groupId,
            item.groupName,
            CHANNEL_LABELS[item.channel as ChannelKind] ?? item.channel,
            item.memberCount,
            STATUS_LABELS[item.status ?? 'pending'] ?? item.status ?? '',
            item.attempts ?? 0,
            item.sentAt ? item.sentAt.toISOString() : null,
            reasonWords(item.lastError),
          ]);
        }
      }
      await writer.end();
    })();
    return { filename: `deliveries-${campaignId}.${format}`, format, writer, done };
  }
}

/**
 * A delivery's reason as staff read it: the engine keeps the channel's code in front of the
 * message (`wecom_group_cap 该群本月…`); the sheet shows the message, as the campaign page does.
 */
export function reasonWords(lastError: string | null | undefined): string | null {
  if (!lastError) return null;
  const match = /^[A-Za-z0-9_.:-]+\s+(.*[\u4e00-\u9fff].*)$/s.exec(lastError);
  return match ? match[1]! : lastError;
}

export function categoryLabel(category: string): string {
  return CATEGORY_LABELS[category as Category] ?? category;
}
