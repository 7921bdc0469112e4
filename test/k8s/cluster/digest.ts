// What a failed step of the real-cluster suite leaves on the CI's console: the artefacts under out/k8s/ are
// complete but a CI page shows only what was printed, and "timed out waiting for the condition" alone
// explains nothing. This prints, in at most a screenful: nodes that are not Ready, workloads short of their
// replicas (with their conditions), every pod that is not Running and Ready with its containers' states,
// its events and the last lines of its logs, the kubelet and controller-manager errors that name it, and
// the cluster's latest Warning events.
// Usage: node digest.ts ARTEFACTS LOGS: ARTEFACTS holds nodes.json, workloads.json, pods.json, events.json
// (kubectl get -o json) and each container's logs as cluster/collect.sh keeps them
// (logs-<ns>-<pod>-<container>[.previous].txt); LOGS holds the processes' logs (kubelet.log, ...).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Meta {
  name: string;
  namespace?: string;
  ownerReferences?: Array<{ kind: string; name: string }>;
}
interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface ContainerStatus {
  name: string;
  restartCount?: number;
  state?: Record<string, { reason?: string; message?: string; exitCode?: number }>;
  lastState?: Record<string, { reason?: string; message?: string; exitCode?: number }>;
}
interface Pod {
  metadata: Meta;
  spec?: {
    nodeName?: string;
    initContainers?: Array<{ name: string }>;
    containers?: Array<{ name: string }>;
  };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: Condition[];
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}
interface Workload {
  kind: string;
  metadata: Meta;
  spec?: { replicas?: number };
  status?: {
    replicas?: number;
    availableReplicas?: number;
    desiredNumberScheduled?: number;
    numberAvailable?: number;
    conditions?: Condition[];
  };
}
interface Node {
  metadata: Meta;
  spec?: { taints?: Array<{ key: string; effect: string }> };
  status?: { conditions?: Condition[] };
}
interface Event {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  involvedObject?: { kind?: string; name?: string; namespace?: string };
}
interface Snapshot {
  nodes: Node[];
  workloads: Workload[];
  pods: Pod[];
  events: Event[];
  /** `<namespace>/<pod>` -> its containers' logs, each line prefixed with the container's name */
  podLogs: Record<string, string>;
  /** process log name (kubelet, kubelet-b, kube-controller-manager...) -> its text */
  processLogs: Record<string, string>;
}

const MAX_LINE = 240;
const clip = (s: string) => (s.length > MAX_LINE ? `${s.slice(0, MAX_LINE - 1)}…` : s);
const id = (m: Meta) => `${m.namespace ?? ""}/${m.name}`;
const when = (e: Event) => e.lastTimestamp ?? e.eventTime ?? "";
const isReady = (conditions: Condition[] | undefined) =>
  conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/** A pod counts as unhealthy until it runs with every container ready (finished Jobs' pods do not count). */
function unhealthy(p: Pod): boolean {
  if (p.status?.phase === "Succeeded") return false;
  return !(p.status?.phase === "Running" && isReady(p.status.conditions));
}

function short(w: Workload): boolean {
  const s = w.status ?? {};
  if (w.kind === "DaemonSet") return (s.numberAvailable ?? 0) < (s.desiredNumberScheduled ?? 0);
  return (s.availableReplicas ?? 0) < (w.spec?.replicas ?? 1);
}

function containerLine(c: ContainerStatus): string {
  const [state, detail] = Object.entries(c.state ?? {})[0] ?? ["unknown", {}];
  const last = Object.entries(c.lastState ?? {})[0];
  const parts = [`container ${c.name}: ${state}`];
  if (detail.reason) parts.push(detail.reason);
  if (detail.exitCode !== undefined) parts.push(`exit ${detail.exitCode}`);
  if (detail.message) parts.push(detail.message.trim());
  if (c.restartCount) parts.push(`${c.restartCount} restarts`);
  if (last) parts.push(`last: ${last[0]} ${last[1].reason ?? ""} exit ${last[1].exitCode ?? "?"}`.trim());
  return clip(parts.join(", "));
}

/** Error and warning lines (klog's E and W) of a process log that mention `needle`, the last `n`. */
function logErrors(text: string, needle: string, n: number): string[] {
  return text
    .split("\n")
    .filter((l) => /^[EW]\d{4} /.test(l) && l.includes(needle))
    .slice(-n)
    .map(clip);
}

export function digest(s: Snapshot): string[] {
  const out: string[] = [];
  const events = [...s.events].sort((a, b) => when(a).localeCompare(when(b))); // oldest first
  const notReady = s.nodes.filter((n) => !isReady(n.status?.conditions));
  out.push(
    `nodes: ${s.nodes.length}, not Ready: ${notReady.map((n) => n.metadata.name).join(" ") || "none"}`,
  );
  for (const n of s.nodes) {
    const taints = (n.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`);
    if (taints.length) out.push(`  ${n.metadata.name} taints: ${taints.join(" ")}`);
  }
  for (const w of s.workloads.filter(short)) {
    const st = w.status ?? {};
    const counts =
      w.kind === "DaemonSet"
        ? `${st.numberAvailable ?? 0}/${st.desiredNumberScheduled ?? 0} available`
        : `${st.availableReplicas ?? 0}/${w.spec?.replicas ?? 1} available, ${st.replicas ?? 0} created`;
    out.push(`${w.kind} ${id(w.metadata)}: ${counts}`);
    for (const c of st.conditions ?? []) {
      if (c.message) out.push(clip(`  ${c.type}=${c.status} ${c.reason ?? ""}: ${c.message}`));
    }
  }
  const bad = s.pods.filter(unhealthy);
  out.push(`pods: ${s.pods.length}, not Running and Ready: ${bad.length}`);
  for (const p of bad) {
    const st = p.status ?? {};
    out.push(
      clip(
        `pod ${id(p.metadata)} on ${p.spec?.nodeName ?? "(no node)"}: ${st.phase ?? "?"} ${st.reason ?? ""} ${st.message ?? ""}`.trimEnd(),
      ),
    );
    for (const c of st.conditions ?? []) {
      // ContainersReady repeats Ready's message
      if (c.status !== "True" && c.message && c.type !== "ContainersReady")
        out.push(clip(`  ${c.type}: ${c.message}`));
    }
    for (const c of [...(st.initContainerStatuses ?? []), ...(st.containerStatuses ?? [])])
      out.push(`  ${containerLine(c)}`);
    const podEvents = events
      .filter(
        (e) =>
          e.involvedObject?.name === p.metadata.name && e.involvedObject.namespace === p.metadata.namespace,
      )
      .slice(-6);
    for (const e of podEvents)
      out.push(
        clip(
          `  event ${e.type} ${e.reason}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ""}: ${e.message ?? ""}`,
        ),
      );
    const logs = (s.podLogs[id(p.metadata)] ?? "").split("\n").filter(Boolean).slice(-12);
    if (logs.length) out.push("  logs:", ...logs.map((l) => clip(`    ${l}`)));
    for (const [name, text] of Object.entries(s.processLogs)) {
      if (!name.startsWith("kubelet")) continue;
      for (const l of logErrors(text, p.metadata.name, 2)) out.push(`  ${name}: ${l}`);
    }
    const owner = p.metadata.ownerReferences?.[0]?.name;
    for (const l of logErrors(s.processLogs["kube-controller-manager"] ?? "", owner ?? p.metadata.name, 3)) {
      out.push(`  kube-controller-manager: ${l}`);
    }
  }
  const warnings = events.filter((e) => e.type === "Warning").slice(-10);
  out.push(`latest Warning events: ${warnings.length ? "" : "none"}`.trimEnd());
  for (const e of warnings) {
    const o = e.involvedObject ?? {};
    out.push(
      clip(
        `  ${when(e)} ${o.kind}/${o.namespace ? `${o.namespace}/` : ""}${o.name} ${e.reason}: ${e.message ?? ""}`,
      ),
    );
  }
  return out;
}

function load(artefacts: string, processLogDir: string): Snapshot {
  const read = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : "");
  const items = <T>(file: string): T[] => {
    const text = read(join(artefacts, file));
    return text ? ((JSON.parse(text) as { items?: T[] }).items ?? []) : [];
  };
  const pods = items<Pod>("pods.json");
  const podLogs: Record<string, string> = {};
  for (const p of pods) {
    const { namespace, name } = p.metadata;
    const lines: string[] = [];
    for (const c of [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])]) {
      for (const [suffix, label] of [
        [".previous.txt", `${c.name} (previous)`],
        [".txt", c.name],
      ]) {
        const text = read(join(artefacts, `logs-${namespace}-${name}-${c.name}${suffix}`));
        for (const l of text.trimEnd().split("\n").filter(Boolean).slice(-8)) lines.push(`[${label}] ${l}`);
      }
    }
    podLogs[id(p.metadata)] = lines.join("\n");
  }
  const processLogs: Record<string, string> = {};
  if (existsSync(processLogDir)) {
    for (const f of readdirSync(processLogDir))
      if (f.endsWith(".log")) processLogs[f.slice(0, -4)] = read(join(processLogDir, f));
  }
  return {
    nodes: items<Node>("nodes.json"),
    workloads: items<Workload>("workloads.json"),
    pods,
    events: items<Event>("events.json"),
    podLogs,
    processLogs,
  };
}

if (import.meta.main) {
  const [artefacts, logs] = process.argv.slice(2);
  if (!artefacts || !logs) throw new Error("usage: node digest.ts ARTEFACTS LOGS");
  for (const line of digest(load(artefacts, logs))) console.log(line);
}
