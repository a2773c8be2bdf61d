// The groups list's first pages, kept under the write token (issue 25, eighth session, screens):
// the list screen opens unfiltered, oldest or newest first, and its first page is the first
// `limit` groups in scope by `_id`. Picking them from the per-county listings means reading
// every listing in scope (84 for a province) in a process that holds none yet (an api process
// just started); a head names them at once.
//
// Contract (collection `grouplistheads`, `_id` = the scope's region code, read by `_id` only):
// - `{ token, first, last, more }`: the first and the last HEAD ids in `_id` order of every
//   group listed in the scope (group-listing.ts candidateRows, no region or filter), as found
//   by a reader that read no open intent, then the write token `token` (write-token.ts), then
//   found every listing in scope current. While the token reads the same and no intent is open,
//   no write finished since: the head is the listings' answer. `more`: the scope holds more
//   than HEAD groups (a page that runs past the head is picked from the listings instead).
// - Saved by list readers only, in one replace: a crash leaves the old head (stale under its
//   token) or the new one; two savers racing each save a self-consistent head.
// - The page is read by `_id` with the list's own filter, as from the listings, so a group
//   that changed meanwhile is judged on its state. A process keeps the pages it answered
//   (any query, up to HEAD groups, 64 at most) under the token they were read after (the page's groups as read then): every
//   group write, of any field, moves the token, so while it reads the same and no intent is
//   open, the page is what the reads would answer again (a repeated call: the intents and the
//   token).
import mongoose from 'mongoose';

const headSchema = new mongoose.Schema(
  {
    _id: { type: String, required: true },
    token: { type: String, required: true },
    /** JSON of ids, ascending. */
    first: { type: String, required: true },
    /** JSON of ids, descending. */
    last: { type: String, required: true },
    more: { type: Boolean, required: true },
  },
  { versionKey: false },
);
export const GroupListHeadModel = mongoose.model('GroupListHead', headSchema, 'grouplistheads');

/** Ids kept at each end: the list's largest page. */
export const HEAD = 200;

export interface Head {
  token: string;
  first: string[];
  last: string[];
  more: boolean;
}

/** Pages kept by a process (of up to HEAD groups each: ~200 KB at most): the oldest dropped beyond this. */
const PAGES_KEPT = 64;

export class ListHeads {
  /** Per database and scope code, the head this process last read or saved. */
  private readonly kept = new Map<string, Head>();
  /** Per database, scope and query, the page this process last answered, under its token. */
  private readonly pages = new Map<string, { token: string; page: readonly unknown[] }>();

  private key(scopeCode: string): string {
    return `${GroupListHeadModel.db.name}/${scopeCode}`;
  }

  /** The scope's head under `token`, or null (none kept under it). */
  async read(scopeCode: string, token: string): Promise<Head | null> {
    const kept = this.kept.get(this.key(scopeCode));
    if (kept?.token === token) return kept;
    const doc = await GroupListHeadModel.findById(scopeCode).lean<{
      token: string;
      first: string;
      last: string;
      more: boolean;
    }>();
    if (!doc) return null;
    const head = { token: doc.token, first: JSON.parse(doc.first), last: JSON.parse(doc.last), more: doc.more };
    this.kept.set(this.key(scopeCode), head);
    return head.token === token ? head : null;
  }

  /** Whether the scope's head under `token` is still to be saved (none kept under it here). */
  wanted(scopeCode: string, token: string): boolean {
    return this.kept.get(this.key(scopeCode))?.token !== token;
  }

  /** Saves the head of `ids` (every listed id in scope, any order) under `token`. */
  async save(scopeCode: string, token: string, ids: string[]): Promise<void> {
    const sorted = [...ids].sort();
    const head: Head = {
      token,
      first: sorted.slice(0, HEAD),
      last: sorted.slice(-HEAD).reverse(),
      more: sorted.length > HEAD,
    };
    await GroupListHeadModel.replaceOne(
      { _id: scopeCode },
      { token, first: JSON.stringify(head.first), last: JSON.stringify(head.last), more: head.more },
      { upsert: true },
    ).catch(() => undefined); // two savers upserting a missing head at once: the other's is as good
    this.kept.set(this.key(scopeCode), head);
  }

  /**
   * The page this process answered under `token` (its groups as read then), or null.
   * Exact for the same reason as the head: every group write, of any field, moves the token.
   */
  page<T>(key: string, token: string): T[] | null {
    const kept = this.pages.get(`${GroupListHeadModel.db.name}/${key}`);
    return kept?.token === token ? ([...kept.page] as T[]) : null;
  }

  keepPage(key: string, token: string, page: readonly unknown[]): void {
    const at = `${GroupListHeadModel.db.name}/${key}`;
    this.pages.delete(at);
    this.pages.set(at, { token, page: [...page] });
    if (this.pages.size > PAGES_KEPT) this.pages.delete(this.pages.keys().next().value!);
  }

  /** Forgets this process's heads and pages (tests: a fresh process). */
  forget(): void {
    this.kept.clear();
    this.pages.clear();
  }
}

export const listHeads = new ListHeads();
