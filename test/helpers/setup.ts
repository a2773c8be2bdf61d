// Runs in every test file's process before the file (vitest.config.ts, setupFiles).
import { compileValidatorsOnFirstUseForTests } from '../../src/http/validation-timing.js';
import { setPasswordCostForTests } from '../../src/lib/password.js';

// Passwords hashed at N = 2^10 instead of the service's 2^15: the suite signs in and creates
// users thousands of times, each a tenth of a second of CPU at the service's cost. Hashing,
// checking and rehashing work alike at any N; test/security/password-cost.test.ts runs at the
// service's cost and checks it.
setPasswordCostForTests(1024);
// Each route's request validators compiled on its first request instead of when the app is
// built (about a third of a second of CPU per build, and most files build one and call a few
// routes); the same Ajv and schemas, so what is accepted and refused is unchanged.
// test/http/schemas-compile.test.ts builds the app the service's way, every schema compiled.
compileValidatorsOnFirstUseForTests();
