// A county's local names for its places: what a desk's ledger calls a township or village
// (城关镇, 亳城乡, 前屯) mapped once by an admin to a region of the tree. Kept in their own
// collection, keyed by the name as written (without spaces, NFKC), so a re-seed of the
// division list (which only inserts missing regions) never touches them, and the next import
// of the same ledger asks nothing.
import mongoose from 'mongoose';

export type AliasKind = 'township' | 'village';

const aliasSchema = new mongoose.Schema(
  {
    /** `${kind}:${within}:${key}`: an upsert by _id is the one FerretDB serves without a scan. */
    _id: { type: String, required: true },
    kind: { type: String, required: true, enum: ['township', 'village'] },
    countyCode: { type: String, required: true },
    /** Where the name is looked up: the county for a township, the township for a village. */
    within: { type: String, required: true },
    key: { type: String, required: true },
    /** The name as the sheet wrote it. */
    name: { type: String, required: true },
    targetCode: { type: String, required: true },
  },
  { timestamps: true, versionKey: false, collection: 'region_aliases' },
);
aliasSchema.index({ countyCode: 1 });

export const RegionAliasModel = mongoose.model('RegionAlias', aliasSchema);

/** The lookup key of a place name: NFKC, no spaces or invisible characters. */
export function aliasKey(name: string): string {
  return name
    .normalize('NFKC')
    .replace(/[\s\u200B-\u200D\uFEFF]+/g, '');
}

export interface RegionAlias {
  kind: AliasKind;
  within: string;
  key: string;
  name: string;
  targetCode: string;
}

export async function aliasesOf(countyCode: string): Promise<RegionAlias[]> {
  return RegionAliasModel.find(
    { countyCode },
    { _id: 0, kind: 1, within: 1, key: 1, name: 1, targetCode: 1 },
  ).lean<RegionAlias[]>();
}

/** Remembers (or re-points) each alias; safe to repeat. */
export async function rememberAliases(countyCode: string, aliases: RegionAlias[]): Promise<void> {
  if (aliases.length === 0) return;
  await RegionAliasModel.bulkWrite(
    aliases.map((alias) => ({
      updateOne: {
        filter: { _id: `${alias.kind}:${alias.within}:${alias.key}` },
        update: { $set: { ...alias, countyCode } },
        upsert: true,
      },
    })),
    { ordered: false },
  );
}
