// A local HTTPS stand-in for the Kubernetes API server: the one part of the Events path that cannot
// exist here. It serves the objects a test puts in it (PVs, PVCs, pods), records every Event POSTed
// with its headers, and checks the bearer token like the real one would.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PostedEvent {
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

export interface KubeStub {
  host: string;
  port: number;
  /** A service account directory (token, ca.crt) for the client side. */
  serviceAccountDir: string;
  token: string;
  /** Objects by API path, e.g. `/api/v1/persistentvolumes/pvc-1`. */
  objects: Map<string, unknown>;
  events: PostedEvent[];
  /** Every request, as `METHOD path`. */
  requests: string[];
  /** Status for POSTs of Events (default 201); lets tests play an API server that refuses. */
  eventStatus: number;
  /** Resolves once n Events have been received. */
  waitForEvents(n: number): Promise<PostedEvent[]>;
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1 (openssl is part of the test environment). */
function certificate(dir: string): { key: string; cert: string } {
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=kube-stub",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
}

export async function startKubeStub(): Promise<KubeStub> {
  const dir = mkdtempSync(join(tmpdir(), "kube-stub-"));
  const tls = certificate(dir);
  const saDir = join(dir, "serviceaccount");
  const token = "stub-token-0123456789";
  execFileSync("mkdir", ["-p", saDir]);
  writeFileSync(join(saDir, "token"), `${token}\n`);
  writeFileSync(join(saDir, "ca.crt"), tls.cert);
  const waiters: Array<{ n: number; resolve: (e: PostedEvent[]) => void }> = [];
  const stub = {
    host: "127.0.0.1",
    port: 0,
    serviceAccountDir: saDir,
    token,
    objects: new Map<string, unknown>(),
    events: [] as PostedEvent[],
    requests: [] as string[],
    eventStatus: 201,
  } as KubeStub;
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      text += d;
    });
    req.on("end", () => {
      const path = req.url ?? "";
      stub.requests.push(`${req.method} ${path}`);
      const reply = (status: number, body: unknown) =>
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (req.headers.authorization !== `Bearer ${token}`) return reply(401, { kind: "Status", code: 401 });
      if (req.method === "GET") {
        const obj = stub.objects.get(path);
        return obj ? reply(200, obj) : reply(404, { kind: "Status", code: 404, reason: "NotFound" });
      }
      if (req.method === "POST" && /^\/api\/v1\/namespaces\/[^/]+\/events$/.test(path)) {
        const event: PostedEvent = {
          path,
          authorization: req.headers.authorization,
          contentType: req.headers["content-type"],
          body: JSON.parse(text),
        };
        if (stub.eventStatus !== 201)
          return reply(stub.eventStatus, { kind: "Status", code: stub.eventStatus });
        stub.events.push(event);
        for (const w of [...waiters])
          if (stub.events.length >= w.n) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(stub.events.slice());
          }
        return reply(201, event.body);
      }
      return reply(405, { kind: "Status", code: 405 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stub.port = (server.address() as { port: number }).port;
  stub.waitForEvents = (n) =>
    stub.events.length >= n
      ? Promise.resolve(stub.events.slice())
      : new Promise((resolve) => waiters.push({ n, resolve }));
  stub.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  };
  return stub;
}

/** A bound PV as the external-provisioner leaves it: its claimRef names the PVC, with uid. */
export function boundPv(name: string, claim: { namespace: string; name: string; uid: string }) {
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name, uid: `pv-uid-${name}` },
    spec: { claimRef: { kind: "PersistentVolumeClaim", apiVersion: "v1", ...claim } },
  };
}

export function pvc(namespace: string, name: string, uid: string) {
  return { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { namespace, name, uid } };
}
