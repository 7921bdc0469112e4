#!/usr/bin/env bash
# The one demo command: installs the npm dependencies (Node 24) if needed, then brings rds-csi up on the
# embedded RouterOS simulator and walks a volume through its whole life. Needs root (loop, mkfs, mount).
set -euo pipefail
cd "$(dirname "$0")/.."
# npm install from the lock file (see scripts/check.sh for why not npm ci)
if [[ ! -x node_modules/node/bin/node ]]; then npm install --no-audit --no-fund --loglevel=error; fi
exec bin/rds-csi demo "$@"
