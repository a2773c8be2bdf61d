// Refuses field names MongoDB would treat as operators or paths ($where, a.b), wherever
// they sit in a body or query, before any schema or handler sees them.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { InvalidInput } from '../lib/errors.js';

function findBadKey(value: unknown, path: string, depth = 0): string | null {
  if (depth > 32) return path;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const bad = findBadKey(item, `${path}[${index}]`, depth + 1);
      if (bad) return bad;
    }
    return null;
  }
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return null;
  for (const [key, item] of Object.entries(value)) {
    const here = path ? `${path}.${key}` : key;
    if (key.startsWith('$') || key.includes('.') || key.includes('\0')) return here;
    const bad = findBadKey(item, here, depth + 1);
    if (bad) return bad;
  }
  return null;
}

export const inputGuard = fp(async (app: FastifyInstance) => {
  app.addHook('preValidation', async (request) => {
    for (const [where, value] of [
      ['body', request.body],
      ['querystring', request.query],
    ] as const) {
      const bad = findBadKey(value, '');
      if (bad) throw new InvalidInput(`字段名 "${bad}" 不允许（不能以 $ 开头或包含 . ）`, `${where}.${bad}`);
    }
  });
});
