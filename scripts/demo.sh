#!/usr/bin/env bash
# The one demo command: installs the npm dependencies (Node 24) if needed, then brings rds-csi up on the
# embedded RouterOS simulator and walks a volume through its whole life. Needs root (loop, mkfs, mount).
set -euo pipefail
cd "$(dirname "$0")/.."
# npm ci installs exactly the committed lock and never rewrites it (the demo must not modify a tracked file).
if [[ ! -x node_modules/node/bin/node ]]; then npm ci --no-audit --no-fund --loglevel=error; fi
exec bin/rds-csi demo "$@"
