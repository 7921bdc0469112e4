// Which node ids exist. ControllerPublishVolume must answer NOT_FOUND for an unknown node: in a cluster
// that means no Kubernetes Node object of that name; outside one, a configured list.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { unavailable } from "../csi/errors.ts";

export interface NodeRegistry {
  readonly description: string;
  has(nodeId: string): Promise<boolean>;
}

export class StaticNodeRegistry implements NodeRegistry {
  readonly #nodes: Set<string>;
  readonly description: string;
  constructor(nodes: Iterable<string>) {
    this.#nodes = new Set(nodes);
    this.description = `configured list (${this.#nodes.size} nodes)`;
  }
  async has(nodeId: string): Promise<boolean> {
    return this.#nodes.has(nodeId);
  }
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Looks nodes up with the pod's service account (RBAC: get nodes). */
export class KubeNodeRegistry implements NodeRegistry {
  readonly description = "Kubernetes API (Node objects)";
  readonly #host: string;
  readonly #port: number;
  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.#host = env.KUBERNETES_SERVICE_HOST ?? "";
    this.#port = Number(env.KUBERNETES_SERVICE_PORT ?? 443);
  }

  static available(env: NodeJS.ProcessEnv = process.env): boolean {
    try {
      readFileSync(`${SA_DIR}/token`);
      return Boolean(env.KUBERNETES_SERVICE_HOST);
    } catch {
      return false;
    }
  }

  has(nodeId: string): Promise<boolean> {
    const token = readFileSync(`${SA_DIR}/token`, "utf8").trim(); // re-read: projected tokens rotate
    const ca = readFileSync(`${SA_DIR}/ca.crt`);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.#host,
          port: this.#port,
          path: `/api/v1/nodes/${encodeURIComponent(nodeId)}`,
          method: "GET",
          ca,
          headers: { authorization: `Bearer ${token}` },
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          if (res.statusCode === 200) resolve(true);
          else if (res.statusCode === 404) resolve(false);
          else reject(unavailable(`Kubernetes API answered ${res.statusCode} looking up node ${nodeId}`));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (err) =>
        reject(unavailable(`Kubernetes API unreachable looking up node ${nodeId}: ${err.message}`)),
      );
      req.end();
    });
  }
}
