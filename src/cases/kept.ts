// What the cases list (协查案件, `GET /api/cases`, the badge) reads from versioned collections,
// kept in the process under the collection's version token (db/versions.ts; issue 25): the
// scope's wanted notices with their approved versions (notices), the follow-ups' campaign
// statuses (campaigns) and the new tips per notice (tips). The province admin's list read the
// notices (a scan), each case's approved version, each follow-up campaign and the tips (a scan)
// on every call; a repeated call now reads one document: the three tokens, asked in one turn.
// Each case's reach is kept under the generation of every run (tracking/run-generation.ts
// `allRunsGeneration`, moved on before and after every write to a settled run's batches and
// before a run's first batches are listed), and only when every run of the notice was settled
// when read (`GenerationKept`), and so are the follow-ups' awaiting deliveries (their
// withdrawal under the campaigns' and notices' tokens; the tasks' horizon applied per call).
//
// Exactness: the token is read before the collection, and every write through mongoose changes
// the token after its write, so a value read before a write is kept under a token that the
// write replaces: the next call reads again. A writer killed between its write and its token
// change leaves the token as it was: a kept value is read again after `maxMs` at the latest
// (and at the collection's next write). No token (an install before them): nothing is kept.
import { collectionVersion } from '../db/versions.js';

type Version = Awaited<ReturnType<typeof collectionVersion>>;

/** Values kept at most; past it everything is forgotten (keys of old scopes and notice lists). */
const MAX_KEPT = 2_000;

export class TokenKept {
  private readonly kept = new Map<string, { token: string; at: number; value: unknown }>();

  constructor(
    private readonly now: () => number,
    private readonly maxMs: number,
  ) {}

  /**
   * The value of `read` for `key` of `collection`, kept while the collection's token is the one
   * read before it. `version`: the token, when the caller asked for it already (so several
   * tokens go to the database in one command).
   */
  async get<T>(
    collection: string,
    key: string,
    read: () => Promise<T>,
    version: Promise<Version> = collectionVersion(collection),
  ): Promise<T> {
    const v = await version;
    const id = `${collection}|${key}`;
    const held = this.kept.get(id);
    if (v && held && held.token === v.token && this.now() - held.at < this.maxMs) return held.value as T;
    const at = this.now();
    const value = await read();
    if (this.kept.size >= MAX_KEPT) this.kept.clear();
    if (v) this.kept.set(id, { token: v.token, at, value });
    else this.kept.delete(id);
    return value;
  }
}

/**
 * Values kept under one generation number read BEFORE them (the reach of each case under the
 * generation of every run): kept only when the reader says the value can change only with
 * that generation (`keepable`); forgotten as soon as the generation moves.
 */
export class GenerationKept<T> {
  private gen: number | null = null;
  private readonly kept = new Map<string, T>();

  /** The values of `keys`, each kept or read by `read` (which says whether it may be kept). */
  async getAll(
    generation: Promise<number>,
    keys: readonly string[],
    read: (missing: string[]) => Promise<Map<string, { value: T; keepable: boolean }>>,
  ): Promise<Map<string, T>> {
    const gen = await generation;
    if (gen !== this.gen) {
      this.kept.clear();
      this.gen = gen;
    }
    const missing = [...new Set(keys)].filter((key) => !this.kept.has(key));
    const fresh = missing.length > 0 ? await read(missing) : new Map<string, { value: T; keepable: boolean }>();
    // Another call may have moved to a newer generation meanwhile: keep only under ours.
    if (this.gen === gen) {
      if (this.kept.size + fresh.size > MAX_KEPT) this.kept.clear();
      for (const [key, { value, keepable }] of fresh) if (keepable) this.kept.set(key, value);
    }
    return new Map(keys.map((key) => [key, (fresh.get(key)?.value ?? this.kept.get(key)) as T]));
  }
}
