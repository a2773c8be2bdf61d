export const CONSOLE_FIRST_LOAD_MAX_BYTES: number;
export function consoleFirstLoadBytes(dist: string): { total: number; files: number };
export function consoleIsStale(): boolean;
export function ensureConsole(options?: { force?: boolean; log?: (message: string) => void }): void;
