// Officer tasks made straight through the task service, as the worker makes them, without
// groups, campaigns or sends: a manual target in a village, a task's text card, and the tasks
// of one campaign run made in waves (`createTasks`, the worker's path).
import type { ManualTaskService } from '../../src/channels/manual/tasks.js';
import type { ChannelMessage, ChannelTarget } from '../../src/channels/types.js';
import { TREE } from './regions.js';

/** A village's region path: root, province, city, county, township, village. */
export const villagePath = (county: string, township: string, village: string) => [
  '000000',
  TREE.province.code,
  TREE.city.code,
  county,
  township,
  village,
];

/** Village A (county A) and village B (county B). */
export const PATH_A = villagePath(TREE.countyA.code, TREE.townshipA.code, TREE.villageA.code);
export const PATH_B = villagePath(TREE.countyB.code, TREE.townshipB.code, TREE.villageB.code);

/** A task's card: plain text, a link, no picture. */
export const TASK_MESSAGE = {
  type: 'text' as const,
  card: {
    format: 'text' as const,
    title: '任务',
    content: '请转发',
    url: 'https://example.cn/n/1',
    pictureUrl: null,
  },
} satisfies ChannelMessage;

let made = 0;

/** The next manual group's target (`group-<n>`, 平安群<n>) in `regionPath`, forwarded by `officer`. */
export function taskTarget(regionPath: string[], officer = { name: '民警', phone: '13800000001' }): ChannelTarget {
  made += 1;
  return {
    groupId: `group-${made}`,
    groupName: `平安群${made}`,
    credentials: { kind: 'manual' } as never,
    regionPath,
    officer,
  };
}

/**
 * The tasks of run `runId` (`<campaignId>@<run time>`) for these targets, made in waves of at
 * most 100 as the worker makes them; their task keys (`<runId>/<groupId>`), in order.
 */
export async function makeRunTasks(
  tasks: ManualTaskService,
  runId: string,
  targets: ChannelTarget[],
): Promise<string[]> {
  const list = targets.map((target) => ({ target, message: TASK_MESSAGE, reference: `${runId}/${target.groupId}` }));
  for (let i = 0; i < list.length; i += 100) await tasks.createTasks(list.slice(i, i + 100));
  return list.map((item) => item.reference);
}
