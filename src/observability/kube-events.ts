// Posts core/v1 Events to the Kubernetes API with the pod's service account (RBAC: create events;
// get persistentvolumes, persistentvolumeclaims and pods to find the object an Event is about).
//
// `kubectl describe` lists the Events whose involvedObject matches the object's kind, name, namespace
// and uid, so an Event must carry the uid: it is read from the API (the PV's claimRef for a volume id,
// the PVC itself for a name), cached, and a target that does not exist is skipped for the next one.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { hostname } from "node:os";
import type { EventSink, EventTarget, OperatorEvent } from "./events.ts";

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface ObjectReference {
  apiVersion: "v1";
  kind: "PersistentVolumeClaim" | "Pod" | "Node";
  name: string;
  namespace?: string;
  uid: string;
}

export interface KubeEventSinkOptions {
  apiHost: string;
  apiPort: number;
  /** Directory with `token` and `ca.crt` (re-read per request: projected tokens rotate). */
  serviceAccountDir?: string;
  /** source.component, e.g. `rds-csi-controller`. */
  component: string;
  /** reportingComponent: the driver name. */
  reportingComponent: string;
  /** reportingInstance and source.host: the node id, or the host name. */
  instance?: string;
  now?: () => Date;
}

interface ApiResponse {
  status: number;
  body: unknown;
}

const CACHE_TTL_MS = 10 * 60_000;

/** The environment has a Kubernetes service account (the driver runs in a pod). */
export function inCluster(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): boolean {
  try {
    readFileSync(`${dir}/token`);
    return Boolean(env.KUBERNETES_SERVICE_HOST);
  } catch {
    return false;
  }
}

export class KubeEventSink implements EventSink {
  readonly #o: Required<Omit<KubeEventSinkOptions, "now">> & { now: () => Date };
  readonly #cache = new Map<string, { ref: Promise<ObjectReference | undefined>; at: number }>();
  #seq = 0;

  constructor(opts: KubeEventSinkOptions) {
    this.#o = {
      serviceAccountDir: SERVICE_ACCOUNT_DIR,
      instance: hostname(),
      now: () => new Date(),
      ...opts,
    };
  }

  async deliver(event: OperatorEvent, signal: AbortSignal): Promise<"posted" | "unresolved"> {
    let ref: ObjectReference | undefined;
    for (const t of event.targets) {
      ref = await this.resolve(t, signal);
      if (ref) break;
    }
    if (!ref) return "unresolved";
    const body = this.eventObject(ref, event);
    const res = await this.#api(
      "POST",
      `/api/v1/namespaces/${encodeURIComponent(body.metadata.namespace)}/events`,
      signal,
      body,
    );
    if (res.status !== 201 && res.status !== 200)
      throw new Error(
        `Kubernetes API answered ${res.status} to POST event: ${JSON.stringify(res.body).slice(0, 300)}`,
      );
    return "posted";
  }

  /** The core/v1 Event for ref (exported shape, for tests and docs). */
  eventObject(ref: ObjectReference, e: OperatorEvent) {
    const now = this.#o.now();
    const ts = now.toISOString().replace(/\.\d{3}Z$/, "Z");
    // Like client-go: <object name>.<unique hex>; nodes' Events live in "default".
    const unique = (BigInt(now.getTime()) * 1_000_000n + BigInt(this.#seq++ % 1_000_000)).toString(16);
    const namespace = ref.namespace ?? "default";
    return {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${ref.name.slice(0, 200)}.${unique}`, namespace },
      involvedObject: ref,
      reason: e.reason,
      message: e.message,
      type: e.type,
      source: { component: this.#o.component, host: this.#o.instance },
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
      reportingComponent: this.#o.reportingComponent,
      reportingInstance: `${this.#o.component}-${this.#o.instance}`.slice(0, 128),
    };
  }

  async resolve(t: EventTarget, signal: AbortSignal): Promise<ObjectReference | undefined> {
    if (t.kind === "node")
      // kubectl describe node matches node Events by uid = node name (the kubelet's convention).
      return { apiVersion: "v1", kind: "Node", name: t.name, uid: t.name };
    if (t.kind === "pod" && t.uid)
      return { apiVersion: "v1", kind: "Pod", name: t.name, namespace: t.namespace, uid: t.uid };
    const key = JSON.stringify(t);
    const hit = this.#cache.get(key);
    if (hit && Date.now() - hit.at < CACHE_TTL_MS) return hit.ref;
    // Cache the lookup itself, so concurrent Events about one object cost one request; a failed
    // lookup is forgotten so the next Event tries again.
    const ref = this.#lookup(t, signal);
    if (this.#cache.size > 1000) this.#cache.clear();
    this.#cache.set(key, { ref, at: Date.now() });
    ref.catch(() => this.#cache.delete(key));
    return ref;
  }

  async #lookup(
    t: Exclude<EventTarget, { kind: "node" }>,
    signal: AbortSignal,
  ): Promise<ObjectReference | undefined> {
    const enc = encodeURIComponent;
    if (t.kind === "volume") {
      const res = await this.#get(`/api/v1/persistentvolumes/${enc(t.volumeId)}`, signal);
      const claim = (
        res as { spec?: { claimRef?: { name?: string; namespace?: string; uid?: string } } } | undefined
      )?.spec?.claimRef;
      if (!claim?.name || !claim.namespace || !claim.uid) return undefined;
      return {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        name: claim.name,
        namespace: claim.namespace,
        uid: claim.uid,
      };
    }
    const path =
      t.kind === "pvc"
        ? `/api/v1/namespaces/${enc(t.namespace)}/persistentvolumeclaims/${enc(t.name)}`
        : `/api/v1/namespaces/${enc(t.namespace)}/pods/${enc(t.name)}`;
    const uid = ((await this.#get(path, signal)) as { metadata?: { uid?: string } } | undefined)?.metadata
      ?.uid;
    if (!uid) return undefined;
    return {
      apiVersion: "v1",
      kind: t.kind === "pvc" ? "PersistentVolumeClaim" : "Pod",
      name: t.name,
      namespace: t.namespace,
      uid,
    };
  }

  /** The object, or undefined when it does not exist; other answers are errors. */
  async #get(path: string, signal: AbortSignal): Promise<unknown> {
    const res = await this.#api("GET", path, signal);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`Kubernetes API answered ${res.status} to GET ${path}`);
    return res.body;
  }

  #api(method: "GET" | "POST", path: string, signal: AbortSignal, body?: unknown): Promise<ApiResponse> {
    const dir = this.#o.serviceAccountDir;
    const token = readFileSync(`${dir}/token`, "utf8").trim();
    const ca = readFileSync(`${dir}/ca.crt`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.#o.apiHost,
          port: this.#o.apiPort,
          path,
          method,
          ca,
          signal,
          headers: {
            authorization: `Bearer ${token}`,
            accept: "application/json",
            ...(payload
              ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
              : {}),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => {
            if (text.length < 1_000_000) text += d;
          });
          res.on("end", () => {
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }
}
