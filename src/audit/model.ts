import mongoose, { type InferSchemaType } from 'mongoose';

// Append-only: the service only inserts; there is no update or delete path anywhere.
const auditSchema = new mongoose.Schema(
  {
    at: { type: Date, required: true },
    actorId: { type: String, default: null },
    actorName: { type: String, default: null },
    action: { type: String, required: true },
    targetKind: { type: String, default: null },
    targetId: { type: String, default: null },
    ip: { type: String, default: null },
    /** Scope of the actor (or of the target when anonymous), so admins read only their subtree. */
    regionPath: { type: [String], required: true },
    details: { type: mongoose.Schema.Types.Mixed, default: null },
  },
  { versionKey: false },
);

// The admin list: newest first inside a scope, optionally by action.
auditSchema.index({ regionPath: 1, at: -1 });
auditSchema.index({ action: 1, at: -1 });

export type AuditDoc = InferSchemaType<typeof auditSchema>;
export const AuditModel = mongoose.model('AuditEntry', auditSchema);
