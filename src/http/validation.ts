// Two Ajv instances: query strings, params and headers arrive as text and are coerced to
// their schema types; JSON bodies are not (a number sent for a name is an error, not "42").
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';

const COMMON: Options = {
  removeAdditional: false, // unknown fields are refused with a message, not silently dropped
  useDefaults: true,
  allErrors: false,
  verbose: true, // errors carry the failing schema, whose description names the expected form
  strict: false, // TypeBox adds its own annotations
};

function makeAjv(coerceTypes: Options['coerceTypes']): Ajv {
  const ajv = new Ajv({ ...COMMON, coerceTypes });
  addFormats.default(ajv);
  return ajv;
}

export const validation = fp(async (app: FastifyInstance) => {
  const forText = makeAjv('array');
  const forBodies = makeAjv(false);
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? forBodies : forText).compile(schema as object),
  );
});
