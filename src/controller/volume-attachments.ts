// VolumeAttachment objects from the Kubernetes API, read with the pod's service account in the same
// style as kube-events.ts and node-registry.ts (RBAC: list volumeattachments.storage.k8s.io). Only what
// the attachment reconciler needs: which (volume, node) pairs the cluster still means to have attached.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { unavailable } from "../csi/errors.ts";
import { SERVICE_ACCOUNT_DIR } from "../observability/kube-events.ts";

export interface VolumeAttachmentRef {
  name: string;
  attacher: string;
  nodeName: string;
  /** spec.source.persistentVolumeName (the PV's name; for dynamically provisioned volumes, our volume id). */
  pvName?: string;
}

export interface VolumeAttachmentLister {
  readonly description: string;
  list(signal?: AbortSignal): Promise<VolumeAttachmentRef[]>;
}

/**
 * The name Kubernetes gives the VolumeAttachment of a CSI volume on a node (kubelet's and the
 * attach/detach controller's getAttachmentName: `csi-` + sha256 of handle, driver and node, in hex).
 */
export function volumeAttachmentName(volumeHandle: string, driverName: string, nodeName: string): string {
  return `csi-${createHash("sha256").update(`${volumeHandle}${driverName}${nodeName}`).digest("hex")}`;
}

export interface KubeApiOptions {
  host: string;
  port: number;
  serviceAccountDir?: string;
  timeoutMs?: number;
}

export class KubeVolumeAttachments implements VolumeAttachmentLister {
  readonly description = "Kubernetes API (VolumeAttachment objects)";
  readonly #o: Required<KubeApiOptions>;

  constructor(opts: KubeApiOptions) {
    this.#o = { serviceAccountDir: SERVICE_ACCOUNT_DIR, timeoutMs: 15_000, ...opts };
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): KubeVolumeAttachments {
    return new KubeVolumeAttachments({
      host: env.KUBERNETES_SERVICE_HOST ?? "",
      port: Number(env.KUBERNETES_SERVICE_PORT ?? 443),
    });
  }

  async list(signal?: AbortSignal): Promise<VolumeAttachmentRef[]> {
    const out: VolumeAttachmentRef[] = [];
    let token: string | undefined;
    // Paged, so a cluster with many attachments never needs one huge response.
    do {
      const query = `limit=500${token ? `&continue=${encodeURIComponent(token)}` : ""}`;
      const page = (await this.#get(`/apis/storage.k8s.io/v1/volumeattachments?${query}`, signal)) as {
        items?: Array<{
          metadata?: { name?: string };
          spec?: { attacher?: string; nodeName?: string; source?: { persistentVolumeName?: string } };
        }>;
        metadata?: { continue?: string };
      };
      for (const item of page.items ?? []) {
        const name = item.metadata?.name;
        const attacher = item.spec?.attacher;
        const nodeName = item.spec?.nodeName;
        if (!name || !attacher || !nodeName) continue;
        const pvName = item.spec?.source?.persistentVolumeName;
        out.push({ name, attacher, nodeName, ...(pvName ? { pvName } : {}) });
      }
      token = page.metadata?.continue || undefined;
    } while (token);
    return out;
  }

  #get(path: string, signal?: AbortSignal): Promise<unknown> {
    const dir = this.#o.serviceAccountDir;
    const bearer = readFileSync(`${dir}/token`, "utf8").trim(); // re-read: projected tokens rotate
    const ca = readFileSync(`${dir}/ca.crt`);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.#o.host,
          port: this.#o.port,
          path,
          method: "GET",
          ca,
          headers: { authorization: `Bearer ${bearer}`, accept: "application/json" },
          timeout: this.#o.timeoutMs,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => {
            text += d;
          });
          res.on("end", () => {
            if (res.statusCode !== 200)
              return reject(
                unavailable(
                  `Kubernetes API answered ${res.statusCode} listing VolumeAttachments${res.statusCode === 403 ? " (RBAC: the controller needs list on volumeattachments.storage.k8s.io)" : ""}`,
                ),
              );
            try {
              resolve(JSON.parse(text));
            } catch (e) {
              reject(unavailable(`Kubernetes API sent invalid JSON: ${(e as Error).message}`));
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (err) => reject(unavailable(`Kubernetes API unreachable: ${err.message}`)));
      req.end();
    });
  }
}
