// exceljs, loaded when the first spreadsheet is written rather than when the process starts:
// its module graph takes longer to load than fastify's (about 0.4 s on a quiet 2-core machine,
// more under load), and most processes never write a sheet (a worker, a scheduler, nearly
// every test file, each of which loads the app afresh).
import { createRequire } from 'node:module';

type ExcelJs = typeof import('exceljs');

const load = createRequire(import.meta.url);
let loaded: ExcelJs | undefined;

export function exceljs(): ExcelJs {
  loaded ??= load('exceljs') as ExcelJs;
  return loaded;
}
