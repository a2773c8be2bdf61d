// Settings kept per county (a WeCom app, how officers' texts read): the county named in a
// route's `:code`, inside the caller's scope (404 outside it), and a county at that (400).
import { Type } from '@sinclair/typebox';
import { InvalidInput } from '../lib/errors.js';
import type { Scope } from './scope.js';
import type { RegionService } from './service.js';

export const CountyParams = Type.Object({ code: Type.String({ pattern: '^[0-9]{6,12}$' }) }, { additionalProperties: false });

/** The county `code` names, or a 400 naming `code` with `message` (what is set per county). */
export async function countyInScope(regions: RegionService, scope: Scope, code: string, message: string) {
  const region = await regions.get(scope, code);
  if (region.level !== 'county') throw new InvalidInput(message, 'code');
  return region;
}
