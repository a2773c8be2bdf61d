// Exports staff report upward: a campaign's deliveries, and the monthly table per township
// (messages, groups, person-times, clicks). Each export is audited.
import type { AuditService } from '../audit/service.js';
import type { Principal } from '../auth/principal.js';
import { CATEGORY_LABELS, type Category } from '../notices/categories.js';
import type { RegionService } from '../regions/service.js';
import { visibleCampaign } from './campaign-lookup.js';
import type { ClickService } from './clicks.js';
import { DeliveryBatchModel } from './model.js';
import { type SheetFormat, type SheetWriter, openSheet } from './sheet.js';
import type { ReachStats } from './stats.js';

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

export const MONTHLY_HEADERS = [
  '月份',
  '乡镇代码',
  '乡镇',
  '消息数',
  '覆盖群数',
  '覆盖村(社区)数',
  '覆盖人次',
  '点击次数',
  '独立访客点击',
];

export interface MonthlyRow {
  townshipCode: string;
  townshipName: string;
  messages: number;
  groupsReached: number;
  villagesReached: number;
  personTimes: number;
  clicks: number;
  uniqueClicks: number;
}

export interface ExportFile {
  filename: string;
  format: SheetFormat;
  writer: SheetWriter;
  /** Fills the sheet; the route streams `writer.stream` while this runs. */
  done: Promise<void>;
}

export class ExportService {
  constructor(
    private readonly regions: RegionService,
    private readonly stats: ReachStats,
    private readonly clicks: ClickService,
    private readonly audit: AuditService,
  ) {}

  async monthlyTable(by: Principal, month: string, regionCode?: string): Promise<MonthlyRow[]> {
    const report = await this.stats.report(by.scope, { from: month, to: month, groupBy: ['township'], regionCode });
    const codes = report.rows.map((row) => row.townshipCode!);
    // A township whose cards were opened but whose sends are not (yet) in the reach figures
    // (an officer has not confirmed a forwarded card, the roll-up is behind) still shows its
    // clicks: listing only townships with counted sends hid every click of such a township.
    const reported = new Set(codes);
    const base = regionCode ?? by.scope.regionCode;
    const extra = await this.regions.existingIn(
      by.scope,
      (await this.clicks.townshipsClicked(month)).filter((code) => !reported.has(code)),
    );
    const clickedOnly: string[] = [];
    for (const code of extra) {
      const region = await this.regions.find(code);
      if (region?.regionPath.includes(base)) clickedOnly.push(code);
    }
    const clicks = await this.clicks.perTownship(month, [...codes, ...clickedOnly]);
    const rows: MonthlyRow[] = [];
    const zero = { messages: 0, groupsReached: 0, villagesReached: 0, personTimes: 0 };
    for (const row of [...report.rows, ...clickedOnly.sort().map((townshipCode) => ({ townshipCode, ...zero }))]) {
      const code = row.townshipCode!;
      rows.push({
        townshipCode: code,
        townshipName: (await this.regions.find(code))?.name ?? code,
        messages: row.messages,
        groupsReached: row.groupsReached,
        villagesReached: row.villagesReached,
        personTimes: row.personTimes,
        clicks: clicks.get(code)?.clicks ?? 0,
        uniqueClicks: clicks.get(code)?.uniqueClicks ?? 0,
      });
    }
    return rows;
  }

  async exportMonthly(
    by: Principal,
    month: string,
    format: SheetFormat,
    regionCode: string | undefined,
    ip: string | null,
  ): Promise<ExportFile> {
    const rows = await this.monthlyTable(by, month, regionCode);
    await this.audit.record({
      actor: by,
      action: 'reach.export_monthly',
      ip,
      details: { month, format, regionCode: regionCode ?? by.scope.regionCode, rows: rows.length },
    });
    const writer = openSheet(format, `${month} 月报`, MONTHLY_HEADERS);
    const done = (async () => {
      for (const r of rows) {
        await writer.row([
          month,
          r.townshipCode,
          r.townshipName,
          r.messages,
          r.groupsReached,
          r.villagesReached,
          r.personTimes,
          r.clicks,
          r.uniqueClicks,
        ]);
      }
      await writer.end();
    })();
    return { filename: `reach-${month}.${format}`, format, writer, done };
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
      // A cursor: one batch (≤ 100 rows) in memory at a time, however big the campaign.
      const cursor = DeliveryBatchModel.find(
        { campaignId, ...by.scope.filter() },
        { items: 1, day: 1, townshipCode: 1 },
      )
        .sort({ _id: 1 })
        .lean()
        .cursor();
      for await (const batch of cursor) {
        for (const item of batch.items) {
          await writer.row([
            batch.day,
            batch.townshipCode,
            item.townshipName || '',
            item.villageCode,
            item.villageName || '',
            item.groupId,
            item.groupName,
            item.channel,
            item.memberCount,
            STATUS_LABELS[item.status ?? 'pending'] ?? item.status ?? '',
            item.attempts ?? 0,
            item.sentAt ? item.sentAt.toISOString() : null,
            item.lastError ?? null,
          ]);
        }
      }
      await writer.end();
    })();
    return { filename: `deliveries-${campaignId}.${format}`, format, writer, done };
  }
}

export function categoryLabel(category: string): string {
  return CATEGORY_LABELS[category as Category] ?? category;
}
