import mongoose, { type InferSchemaType } from 'mongoose';
import { ROLES } from './roles.js';
import { versioned } from '../db/versions.js';

const userSchema = new mongoose.Schema(
  {
    username: { type: String, required: true },
    displayName: { type: String, required: true },
    passwordHash: { type: String, required: true },
    role: { type: String, required: true, enum: ROLES },
    /** The user's scope: a region code, with its path for scoped listing of users. */
    regionCode: { type: String, required: true },
    regionPath: { type: [String], required: true },
    phone: { type: String, default: null },
    /** The user's WeCom member userid: owners of WeCom customer groups are matched to officers by it. */
    wecomUserId: { type: String, default: null },
    active: { type: Boolean, default: true },
    /** Set on the first admin when its password was generated: the console asks for a new one first. */
    mustChangePassword: { type: Boolean, default: false },
  },
  { timestamps: true, versionKey: false },
);

// Login by name; also makes the first-admin bootstrap safe across instances.
userSchema.index({ username: 1 }, { unique: true });
// Users of a scope by name (names lookups, the superior picker's search).
userSchema.index({ regionPath: 1, username: 1 });
// The admin's user list, paged by keyset cursor inside a scope.
userSchema.index({ regionPath: 1, _id: 1 });

const sessionSchema = new mongoose.Schema(
  {
    /** SHA-256 of the bearer token; the token itself is never stored. */
    tokenHash: { type: String, required: true },
    userId: { type: String, required: true },
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    revokedAt: { type: Date, default: null },
    ip: { type: String, default: null },
  },
  { versionKey: false },
);

// Every authenticated request looks a session up by its token hash.
sessionSchema.index({ tokenHash: 1 }, { unique: true });
// Revoking all sessions of a user (password change, deactivation).
sessionSchema.index({ userId: 1 });

// Failed password checks, one counter per key: `user|address` (a stranger's failures delay
// only the stranger's address) and `@address` (one address guessing many accounts). The key is
// the _id. The count itself is decided by numbered claims (login-throttle.ts): FerretDB 1.24
// does not apply concurrent $inc exactly; `failures` here is the highest number seen.
const loginThrottleSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    /** The username as typed (null for an address key), for an admin's unlock. */
    username: { type: String, default: null },
    failures: { type: Number, required: true },
    /** Start of this counter's run of failures: the claims of one run are numbered within it. */
    window: { type: Date, default: null },
    lastFailureAt: { type: Date, required: true },
    blockedUntil: { type: Date, default: null },
  },
  { versionKey: false },
);
// An admin's unlock removes an account's counters at every address.
loginThrottleSchema.index({ username: 1 });

export type UserDoc = InferSchemaType<typeof userSchema> & { _id: mongoose.Types.ObjectId };
// The workbench's counts are kept while this token stays (db/versions.ts).
versioned(userSchema, 'users');
export const UserModel = mongoose.model('User', userSchema);
export const SessionModel = mongoose.model('Session', sessionSchema);
export const LoginThrottleModel = mongoose.model('LoginThrottle', loginThrottleSchema);
