// One source for the console's API types (issue 21.9): console/src/api/schema.d.ts is generated
// from the service's OpenAPI document (scripts/api-types.ts), and the console's names for the
// API's shapes (shapes.ts) are read from it — so when a server schema changes, code that reads
// what the server no longer gives fails type checking. The whole vue-tsc run is `npm run check`;
// here the chain is checked on a small consumer, against the document as it is and as changed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenAPI3 } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_FILE, serviceDocument, typesFromDocument } from '../../scripts/api-types.js';

const SHAPES = join(SCHEMA_FILE, '..', 'shapes.ts');

// Reads a campaign's title and a group's officer as console screens do.
const CONSUMER = `import type { ApiReply, Row } from './shapes';
declare const campaign: ApiReply<'/api/campaigns/{id}'>;
declare const group: Row<'/api/groups'>;
export const title: string = campaign.title;
export const officer: string | undefined = group.officer?.name;
`;

/** Type errors of the consumer compiled against the types generated from `doc`. */
async function consumerErrors(doc: OpenAPI3, dir: string): Promise<string[]> {
  writeFileSync(join(dir, 'schema.d.ts'), await typesFromDocument(doc));
  writeFileSync(join(dir, 'shapes.ts'), readFileSync(SHAPES, 'utf8'));
  writeFileSync(join(dir, 'consumer.ts'), CONSUMER);
  const program = ts.createProgram([join(dir, 'consumer.ts')], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    skipLibCheck: true,
  });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

type ObjectSchema = { properties: Record<string, unknown>; required: string[] };
/** The 200 answer of a GET in the document. */
function okJson(doc: OpenAPI3, path: string): { content: { 'application/json': { schema: ObjectSchema } } } {
  const paths = doc.paths as Record<string, { get: { responses: Record<string, unknown> } }>;
  return paths[path]!.get.responses['200'] as { content: { 'application/json': { schema: ObjectSchema } } };
}

describe('the console API types generated from the OpenAPI document', { timeout: 120_000 }, () => {
  let doc: OpenAPI3;
  let dir: string;
  beforeAll(async () => {
    doc = await serviceDocument();
    dir = mkdtempSync(join(tmpdir(), 'api-types-'));
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('when the server schemas are as committed, then the committed schema.d.ts is what the generator writes', async () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(await typesFromDocument(doc));
  });

  it('when the document is as the server gives it, then a console consumer type-checks', async () => {
    expect(await consumerErrors(doc, dir)).toEqual([]);
  });

  it('when a server response schema drops a field the console reads, then type checking fails on it', async () => {
    const changed = structuredClone(doc);
    const reply = okJson(changed, '/api/campaigns/{id}').content['application/json'].schema;
    delete reply.properties.title;
    reply.required = reply.required.filter((name) => name !== 'title');
    const errors = await consumerErrors(changed, dir);
    expect(errors.some((message) => message.includes("'title'"))).toBe(true);
  });

  it('when a server list drops its rows schema, then a console reading a row fails instead of seeing never', async () => {
    const changed = structuredClone(doc);
    delete (okJson(changed, '/api/groups') as { content?: unknown }).content;
    const errors = await consumerErrors(changed, dir);
    expect(errors.some((message) => message.includes("'officer'"))).toBe(true);
  });
});
