// A caller's region scope. Every query on scoped data takes a Scope, so forgetting the
// region filter is a type error, not a data leak. Scoped documents carry `regionPath`:
// the codes of their region and all its ancestors, root first.
export class Scope {
  constructor(readonly regionCode: string) {}

  /** Filter for documents whose `regionPath` lies inside this scope's subtree. */
  filter(): { regionPath: string } {
    return { regionPath: this.regionCode };
  }

  contains(regionPath: readonly string[]): boolean {
    return regionPath.includes(this.regionCode);
  }
}
