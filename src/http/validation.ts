// Two Ajv instances: query strings, params and headers arrive as text and are coerced to
// their schema types; JSON bodies are not (a number sent for a name is an error, not "42").
//
// The service compiles every route's validators when the app is built, so a schema Ajv cannot
// compile stops the start. Tests build the app once per file (about a hundred times a run) and
// call a handful of its 150 routes: `compileValidatorsOnFirstUseForTests` (validation-timing.ts,
// called by test/helpers/setup.ts; the service never calls it) defers each validator's
// compilation to the first request that needs it: the same Ajv, options and schema, so what is
// accepted and refused is unchanged.
// test/http/schemas-compile.test.ts builds the app the service's way.

import { Ajv, type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { validatorsOnFirstUse } from './validation-timing.js';

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

/** Compiles on the first call; Fastify reads a refusal's reasons from `.errors`, as Ajv's own function has them. */
function compiledOnFirstUse(ajv: Ajv, schema: object) {
  let compiled: ValidateFunction | undefined;
  const validate = (data: unknown): boolean => {
    compiled ??= ajv.compile(schema);
    const valid = compiled(data);
    validate.errors = compiled.errors;
    return valid;
  };
  validate.errors = null as ValidateFunction['errors'];
  return validate;
}

export const validation = fp(async (app: FastifyInstance) => {
  const forText = makeAjv('array');
  const forBodies = makeAjv(false);
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? forBodies : forText;
    return validatorsOnFirstUse() ? compiledOnFirstUse(ajv, schema as object) : ajv.compile(schema as object);
  });
});
