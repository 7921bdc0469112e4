#!/bin/sh
# Generic guest entry: loads the NVMe target and initiator modules and runs one Node program of this
# repository with the project's Node 24 (used by bench/nvme-e2e.ts). The program and its arguments come
# from $E2E_OUT/guest-args, one per line; it writes its results to $E2E_OUT.
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$REPO" || exit 1
for m in nvmet nvmet-tcp nvme-tcp loop; do modprobe "$m" || echo "E2E: modprobe $m failed"; done
set --
while IFS= read -r a; do [ -n "$a" ] && set -- "$@" "$a"; done < "$E2E_OUT/guest-args"
export E2E_OUT PATH="$REPO/node_modules/.bin:$PATH"
"$REPO/node_modules/node/bin/node" "$@"
status=$?
echo "E2E: node exit=$status uptime=$(cut -d' ' -f1 /proc/uptime)"
exit $status
