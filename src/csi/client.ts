// A small promise-based CSI client over grpc-js, used by the demo, the doctor, tests and benchmarks to
// drive the driver the way the sidecars and kubelet do (same socket, same protobuf messages).
import * as grpc from "@grpc/grpc-js";
import type { ControllerClient } from "./generated/csi/v1/Controller.ts";
import type { IdentityClient } from "./generated/csi/v1/Identity.ts";
import type { NodeClient } from "./generated/csi/v1/Node.ts";
import { loadCsi } from "./proto.ts";

// biome-ignore lint/suspicious/noExplicitAny: generic over generated overloads
type Callback = (err: grpc.ServiceError | null, res: any) => void;
// Turns the callback-style generated methods into `(request) => Promise<response>`.
type Promisified<C> = {
  [K in keyof C as K extends `${Capitalize<string>}`
    ? C[K] extends (...a: never[]) => unknown
      ? K
      : never
    : never]: C[K] extends (
    argument: infer Req,
    callback: (err: grpc.ServiceError | null, value?: infer Res) => void,
  ) => grpc.ClientUnaryCall
    ? (request: Req, options?: { deadlineMs?: number }) => Promise<NonNullable<Res>>
    : never;
};

export interface CsiClient {
  identity: Promisified<IdentityClient>;
  controller: Promisified<ControllerClient>;
  node: Promisified<NodeClient>;
  close(): void;
}

function promisify<C extends grpc.Client>(client: C): Promisified<C> {
  return new Proxy({} as Promisified<C>, {
    get(_t, method: string) {
      // biome-ignore lint/suspicious/noExplicitAny: dynamic dispatch to generated methods
      const fn = (client as any)[method];
      if (typeof fn !== "function") return undefined;
      return (request: unknown, options: { deadlineMs?: number } = {}) =>
        new Promise((resolve, reject) => {
          const callOptions: grpc.CallOptions = options.deadlineMs
            ? { deadline: Date.now() + options.deadlineMs }
            : {};
          const cb: Callback = (err, res) => (err ? reject(err) : resolve(res));
          fn.call(client, request, new grpc.Metadata(), callOptions, cb);
        });
    },
  });
}

/** Connects to `unix:///path` or `host:port`. The :authority is `localhost`, as kubelet and the sidecars send. */
export function connectCsi(endpoint: string): CsiClient {
  const v1 = loadCsi().csi.v1;
  const creds = grpc.credentials.createInsecure();
  const opts = { "grpc.default_authority": "localhost" };
  const target = endpoint.replace(/^tcp:\/\//, "");
  const identity = new v1.Identity(target, creds, opts);
  const controller = new v1.Controller(target, creds, opts);
  const node = new v1.Node(target, creds, opts);
  return {
    identity: promisify(identity),
    controller: promisify(controller),
    node: promisify(node),
    close() {
      identity.close();
      controller.close();
      node.close();
    },
  };
}
