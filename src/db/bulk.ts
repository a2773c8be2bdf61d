// FerretDB 1.24 keeps the read behind each statement of an update command open until the
// whole command ends, and its SQLite pool has 100 connections: one update command (or
// bulkWrite run of updates/replaces) with about 100 statements waits forever for a
// connection it holds itself, and every other client of that FerretDB stalls with it
// (seen with a roll-up fold of 200 replaces; docs/ferretdb.md). Bulk updates therefore go
// in commands of at most this many statements, leaving room for several at once.
export const MAX_UPDATES_PER_COMMAND = 20;
