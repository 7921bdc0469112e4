#!/bin/sh
# Debugging entry (npx node test/e2e/run-e2e.ts --entry test/e2e/guest/probe.sh): what the guest kernel
# offers for NVMe/TCP, and how long Node takes to start under TCG.
REPO=$(cd "$(dirname "$0")/../../.." && pwd); cd "$REPO" || exit 1
for m in nvmet nvmet-tcp nvme-tcp loop; do modprobe "$m" || echo "E2E: modprobe $m failed"; done
echo "E2E: kernel $(uname -r), cpus $(nproc), $(grep MemTotal /proc/meminfo | tr -s ' ')"
echo "E2E: nvme_core multipath=$(cat /sys/module/nvme_core/parameters/multipath)"
mkdir /sys/kernel/config/nvmet/subsystems/nqn.2026-01.probe:x
echo "E2E: nvmet namespace attributes: $(ls /sys/kernel/config/nvmet/subsystems/nqn.2026-01.probe:x/namespaces 2>/dev/null; mkdir /sys/kernel/config/nvmet/subsystems/nqn.2026-01.probe:x/namespaces/1 && ls /sys/kernel/config/nvmet/subsystems/nqn.2026-01.probe:x/namespaces/1 | tr '\n' ' ')"
rmdir /sys/kernel/config/nvmet/subsystems/nqn.2026-01.probe:x/namespaces/1 /sys/kernel/config/nvmet/subsystems/nqn.2026-01.probe:x
s=$(cut -d' ' -f1 /proc/uptime); "$REPO/node_modules/node/bin/node" -e 0; e=$(cut -d' ' -f1 /proc/uptime)
echo "E2E: node -e 0 took $(echo "$e $s" | awk '{printf "%.2f", $1-$2}') s ($("$REPO/node_modules/node/bin/node" --version))"
