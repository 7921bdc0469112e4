#!/usr/bin/env bash
# sim.sh start [sim flags...] | stop | restart [sim flags...]: the RDS simulator on $NODE_IP:$SIM_PORT in
# the cluster's network namespace, its disks under $SIM_DATA (the node plugin's loopRoot). Its state lives
# in $SIM_DATA/.sim, so a restart with fault flags (--disk-full, --drop-on) keeps every disk.
source "$(dirname "$0")/../lib/common.sh"
SSH=$STATE/ssh
sim_start() {
  [[ -f $SSH/sim_host_key ]] || ssh-keygen -q -t ed25519 -N '' -C rds-sim -f "$SSH/sim_host_key"
  start rds-sim "$K8S_ROOT/bin/rds-csi" sim --listen "$NODE_IP:$SIM_PORT" --data "$SIM_DATA" \
    --authorized-keys "$SSH/rds-csi_ed25519.pub" --host-key "$SSH/sim_host_key" --pool storage-pool:20G:xfs "$@"
  wait_for 30 "the simulator" grep -q ready "$OUT/logs/rds-sim.log" || { cat "$OUT/logs/rds-sim.log"; exit 1; }
}
sim_stop() {
  local pid
  pid=$(cat "$STATE/pids/rds-sim" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  cat "$OUT/logs/rds-sim.log" >>"$OUT/logs/rds-sim.all.log"
  rm -f "$STATE/pids/rds-sim"
}
cmd=${1:-}; shift || true
case $cmd in
  start) sim_start "$@" ;;
  stop) sim_stop ;;
  restart) sim_stop; sim_start "$@" ;;
  *) echo "usage: $0 start|stop|restart [flags]" >&2; exit 2 ;;
esac
