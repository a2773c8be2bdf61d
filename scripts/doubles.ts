// npm run doubles [-- --port=4010] [--robots=data/demo-robots.json] [--dingtalk-penalty-ms=600000]
// Runs the local robot doubles (WeCom, DingTalk, Feishu, webhook receiver) on 127.0.0.1 for
// demos and benchmarks. Control API: GET /_doubles/received, POST /_doubles/robots,
// POST /_doubles/faults, POST /_doubles/reset.
import { existsSync, readFileSync } from 'node:fs';
import { RobotDoubles } from '../src/channels/doubles/server.js';
import type { RobotConfig } from '../src/channels/doubles/types.js';

function flag(name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function main() {
  const port = Number(flag('port') ?? 4010);
  const penalty = flag('dingtalk-penalty-ms');
  const doubles = new RobotDoubles({ port, ...(penalty ? { dingtalkPenaltyMs: Number(penalty) } : {}) });
  await doubles.start();
  const robotsFile = flag('robots') ?? (existsSync('data/demo-robots.json') ? 'data/demo-robots.json' : undefined);
  let robots: RobotConfig[] = [];
  if (robotsFile) {
    robots = JSON.parse(readFileSync(robotsFile, 'utf8')) as RobotConfig[];
    for (const robot of robots) doubles.addRobot(robot);
  }
  process.stdout.write(
    `robot doubles on ${doubles.url} with ${robots.length} robots${robotsFile ? ` from ${robotsFile}` : ''}\n` +
      `  WECOM_BASE_URL=${doubles.url} DINGTALK_BASE_URL=${doubles.url} FEISHU_BASE_URL=${doubles.url} OUTBOUND_ALLOW_HOSTS=127.0.0.1\n` +
      `  received messages: curl ${doubles.url}/_doubles/received\n`,
  );
  const stop = async () => {
    await doubles.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`doubles failed: ${(error as Error).message}\n`);
  process.exit(1);
});
