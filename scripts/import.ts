// npm run import -- groups|regions <file.xlsx|file.csv> [--dry-run] [--partial] [--region=CODE]
//   [--county=CODE] [--default-channel=manual|wecom|…] [--townships=JSON] [--villages=JSON]
// --county: where villages named without a code are looked for; --default-channel: the channel
// of new groups when the sheet has no channel column (personal WeChat groups: manual);
// --townships / --villages: the answers to the dry run's questions, as the API's multipart
// fields ({"城关镇":"410527001","张龙乡":"new"}), remembered when the import is applied.
// The same import as POST /api/groups/import, from the command line with progress, for
// first loads of a whole city or province. Acts with the scope of --region (default: all).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { CHANNEL_KINDS, type ChannelKind } from '../src/channels/credentials.js';
import { importGroups } from '../src/audience/sheets/import-groups.js';
import { importRegions } from '../src/audience/sheets/import-regions.js';
import { readSheet } from '../src/audience/sheets/read-sheet.js';
import { loadConfig } from '../src/config.js';
import { createContext, prepareDatabase } from '../src/context.js';
import { openDatabase } from '../src/db/connection.js';

async function main() {
  const [what, file] = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  if ((what !== 'groups' && what !== 'regions') || !file) {
    throw new Error(
      'usage: npm run import -- groups|regions <file.xlsx|file.csv> [--dry-run] [--partial] [--region=CODE]',
    );
  }
  const region = process.argv.find((arg) => arg.startsWith('--region='))?.slice('--region='.length);
  const flag = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  const defaultChannel = flag('default-channel') ?? 'manual';
  if (!(CHANNEL_KINDS as readonly string[]).includes(defaultChannel))
    throw new Error(`--default-channel must be one of ${CHANNEL_KINDS.join(', ')}`);
  const options = {
    defaultChannel: defaultChannel as ChannelKind,
    regionCode: flag('county'),
    dryRun: process.argv.includes('--dry-run'),
    partial: process.argv.includes('--partial'),
    mappings: {
      townships: flag('townships') ? (JSON.parse(flag('townships')!) as Record<string, string>) : undefined,
      villages: flag('villages') ? (JSON.parse(flag('villages')!) as Record<string, string>) : undefined,
    },
    onProgress: (done: number, total: number) => process.stdout.write(`\r[import] writing ${done}/${total}   `),
  };
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    const ctx = createContext(config, db);
    await prepareDatabase(ctx);
    const scope = region ? await ctx.regions.scopeOf(region) : ctx.regions.rootScope();
    process.stdout.write(`[import] reading ${basename(file)}…\n`);
    const rows = await readSheet(readFileSync(file), basename(file));
    process.stdout.write(`[import] ${rows.length} lines read, checking…\n`);
    const report =
      what === 'groups'
        ? await importGroups(ctx.groups, ctx.clock, scope, rows, options)
        : await importRegions(scope, rows, options);
    for (const line of report.totals ?? [])
      process.stdout.write(
        `  第 ${line.row} 行是合计行（不导入）：${line.memberCount ?? '—'} 人，表中各群合计 ${line.countedMembers ?? '—'} 人\n`,
      );
    if (report.summary) process.stdout.write(`  ${report.summary}\n`);
    for (const township of report.townships ?? [])
      process.stdout.write(
        `  需确认乡镇“${township.name}”（${township.rows} 行）：候选 ${township.candidates.map((c) => `${c.name} ${c.code}`).join('、') || '无'}\n`,
      );
    for (const village of report.villages ?? [])
      process.stdout.write(
        `  ${village.action === 'create' ? '将新建' : '需确认'}村（社区）${village.township.name}/${village.name}（${village.rows} 行）${village.code ?? village.candidates.map((c) => ` ${c.name} ${c.code}`).join('、')}\n`,
      );
    if (report.villagesCreated) process.stdout.write(`  新建村（社区）${report.villagesCreated} 个\n`);
    for (const error of report.errors)
      process.stdout.write(`  第 ${error.row} 行${error.column ? `【${error.column}】` : ''}：${error.message}\n`);
    process.stdout.write(
      `\n[import] ${report.applied ? 'applied' : 'NOT applied'}${report.dryRun ? ' (dry run)' : ''}: ${report.rows} rows, ` +
        `${report.created} created, ${report.updated} updated, ${report.unchanged} unchanged, ${report.rejected} rejected\n`,
    );
    if (!report.applied && !report.dryRun) process.exitCode = 2;
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`import failed: ${(error as Error).message}\n`);
  process.exit(1);
});
