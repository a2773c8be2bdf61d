// Runs in every test file's process before the file (vitest.config.ts, setupFiles).
import { setPasswordCostForTests } from '../../src/lib/password.js';

// Passwords hashed at N = 2^10 instead of the service's 2^15: the suite signs in and creates
// users thousands of times, each a tenth of a second of CPU at the service's cost. Hashing,
// checking and rehashing work alike at any N; test/security/password-cost.test.ts runs at the
// service's cost and checks it.
setPasswordCostForTests(1024);
