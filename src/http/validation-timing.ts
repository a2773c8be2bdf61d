// When the request validators are compiled (src/http/validation.ts): at start, as the service
// does, or on each route's first request, for tests only (test/helpers/setup.ts). A module of
// its own so the test set-up can switch it without loading Ajv into files that never build the app.
let onFirstUse = false;

/** Tests only: validators compiled on their route's first request, not at start. */
export function compileValidatorsOnFirstUseForTests(on = true): void {
  onFirstUse = on;
}

export function validatorsOnFirstUse(): boolean {
  return onFirstUse;
}
