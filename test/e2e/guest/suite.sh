#!/bin/sh
# Guest entry of `npm run test:e2e` (runs as root inside the VM, see harness/init.sh): loads the NVMe
# target and initiator modules and runs the scenarios as one vitest run with the project's own Node 24.
# Results go to $E2E_OUT (the read-write share): junit.xml, vitest.json, dmesg.txt, logs/.
# Extra vitest arguments (a file filter, -t NAME) come from $E2E_OUT/guest-args, one per line.
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$REPO" || exit 1
up() { cut -d' ' -f1 /proc/uptime; }
for m in nvmet nvmet-tcp nvme-tcp loop; do modprobe "$m" || echo "E2E: modprobe $m failed"; done
echo "E2E: modules loaded uptime=$(up)"
set --
if [ -f "$E2E_OUT/guest-args" ]; then
  while IFS= read -r a; do [ -n "$a" ] && set -- "$@" "$a"; done < "$E2E_OUT/guest-args"
fi
# CI=true: plain, append-only vitest output on the serial console (no redrawn progress lines).
export E2E_OUT CI=true PATH="$REPO/node_modules/.bin:$PATH"
"$REPO/node_modules/node/bin/node" "$REPO/node_modules/vitest/vitest.mjs" run --configLoader native --config test/e2e/vitest.e2e.config.ts "$@"
status=$?
echo "E2E: vitest exit=$status uptime=$(up)"
dmesg > "$E2E_OUT/dmesg.txt"
exit $status
