// Names, not codes: places by name (the code on hover) and users by name and unit, for any
// screen that holds codes or user ids. One cache for the session; unknown codes and ids are
// asked for in one request (GET /api/names) per batch.
import { reactive } from 'vue';
import { http, unwrap } from '../api/client';
import type { ApiReply } from '../api/shapes';

type Person = ApiReply<'/api/names'>['users'][string];

const regions = reactive(new Map<string, string>());
const users = reactive(new Map<string, Person>());
const asked = new Set<string>();
/** Asked and answered (found or not): an id the service does not know shows the fallback, not …. */
const answered = reactive(new Set<string>());

/** Asks for the names of codes and user ids not yet known (ignores the ones asked before). */
export async function learnNames(input: { regions?: (string | null | undefined)[]; users?: (string | null | undefined)[] }) {
  const codes = [...new Set((input.regions ?? []).filter((c): c is string => !!c && !asked.has(`r:${c}`)))];
  const ids = [...new Set((input.users ?? []).filter((u): u is string => !!u && !asked.has(`u:${u}`)))];
  if (codes.length === 0 && ids.length === 0) return;
  for (const c of codes) asked.add(`r:${c}`);
  for (const u of ids) asked.add(`u:${u}`);
  for (let i = 0; i < Math.max(codes.length, ids.length); i += 100) {
    try {
      const query = { regions: codes.slice(i, i + 100).join(','), users: ids.slice(i, i + 100).join(',') };
      const answer = await unwrap(http.GET('/api/names', { params: { query } }));
      for (const [code, name] of Object.entries(answer.regions)) regions.set(code, name);
      for (const [id, person] of Object.entries(answer.users)) users.set(id, person);
      for (const c of codes.slice(i, i + 100)) answered.add(`r:${c}`);
      for (const u of ids.slice(i, i + 100)) answered.add(`u:${u}`);
    } catch {
      // A name that cannot be read stays unknown: placeName/personName show a neutral word.
      for (const c of codes.slice(i, i + 100)) asked.delete(`r:${c}`);
      for (const u of ids.slice(i, i + 100)) asked.delete(`u:${u}`);
    }
  }
}

/** The place's name (… while asked, 未知地区 when the service knows no such code; never the bare code). */
export function placeName(code: string | null | undefined): string {
  if (!code) return '—';
  return regions.get(code) ?? (answered.has(`r:${code}`) ? '未知地区' : '…');
}

/** 张三（城关派出所）: the user's name and unit. */
export function personName(id: string | null | undefined, fallback = '—'): string {
  if (!id) return fallback;
  const person = users.get(id);
  if (!person) return answered.has(`u:${id}`) ? fallback : '…';
  return person.unit ? `${person.displayName}（${person.unit}）` : person.displayName;
}

export function rememberPlace(code: string, name: string): void {
  regions.set(code, name);
  asked.add(`r:${code}`);
}
