#!/bin/sh
# Runs a command (`node …`, `vitest …`) on Node.js 24 LTS: the system's node when it is 24 or
# newer, else the one scripts/setup.mjs brought into .tools/node (first on PATH, so child
# processes that start `node` get it too). Used by npm start, npm test and .ci/run.
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 24 ]; then
  if [ -x "$root/.tools/node/bin/node" ]; then
    PATH="$root/.tools/node/bin:$PATH"
    export PATH
  else
    echo "[node.sh] warning: Node.js $(node --version 2>/dev/null) is older than 24 and .tools/node is missing; run node scripts/setup.mjs" >&2
  fi
fi
exec "$@"
