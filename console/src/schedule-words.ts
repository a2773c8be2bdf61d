// Schedules in words: the wizard's builder turns "每周一 09:00" into node-cron syntax and
// back, so people never need to write cron themselves.
import { formatTime } from './labels';

export type Frequency = 'daily' | 'weekly' | 'monthly';
export const WEEKDAYS = ['周日', '周一', '周二', '周三', '周四', '周五', '周六'];

export interface Repeat {
  frequency: Frequency;
  weekday: number;
  monthDay: number;
  time: string; // HH:mm
}

export function cronOf(repeat: Repeat): string {
  const [h, m] = repeat.time.split(':').map(Number);
  if (repeat.frequency === 'daily') return `${m} ${h} * * *`;
  if (repeat.frequency === 'weekly') return `${m} ${h} * * ${repeat.weekday}`;
  return `${m} ${h} ${repeat.monthDay} * *`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The builder's choices for a cron it could have made (null for an expert's expression). */
export function repeatOf(cron: string): Repeat | null {
  const match = /^(\d{1,2}) (\d{1,2}) (\*|\d{1,2}) \* (\*|[0-6])$/.exec(cron.trim());
  if (!match) return null;
  const [, m, h, day, weekday] = match;
  const time = `${pad(Number(h))}:${pad(Number(m))}`;
  if (day === '*' && weekday === '*') return { frequency: 'daily', weekday: 1, monthDay: 1, time };
  if (day === '*') return { frequency: 'weekly', weekday: Number(weekday), monthDay: 1, time };
  if (weekday === '*') return { frequency: 'monthly', weekday: 1, monthDay: Number(day), time };
  return null;
}

/** "每周一 09:00" for the cron shapes the builder makes; an expert's expression is not shown to staff. */
export function describeCron(cron: string): string {
  const match = /^(\d{1,2}) (\d{1,2}) (\*|\d{1,2}) \* (\*|[0-6])$/.exec(cron.trim());
  if (!match) return '按管理员设置的周期规则';
  const [, m, h, day, weekday] = match;
  const time = `${pad(Number(h))}:${pad(Number(m))}`;
  if (day === '*' && weekday === '*') return `每天 ${time}`;
  if (day === '*') return `每${WEEKDAYS[Number(weekday)]} ${time}`;
  if (weekday === '*') return `每月 ${Number(day)} 日 ${time}`;
  return '按管理员设置的周期规则';
}

export function describeSchedule(schedule: { kind: string; at?: string; cron?: string; endAt?: string }): string {
  if (schedule.kind === 'now') return '审核通过后立即发送';
  if (schedule.kind === 'once') return `定时 ${formatTime(schedule.at)}`;
  return `${describeCron(schedule.cron ?? '')}，至 ${formatTime(schedule.endAt)}`;
}
