// The CSI spec v1.12.0 services for grpc-js, built once from generated/csi-descriptor.ts (made from
// proto/csi.proto by scripts/csi-descriptor.ts). Messages follow the CSI conventions for Node, exactly as
// @grpc/proto-loader would with these options: field names as in the .proto, int64 as strings (converted
// to numbers at the edge, see ./int64.ts), enums as strings, defaults filled, set oneof named.
//
// Why not proto-loader: it parses the .proto at start and builds descriptor objects gRPC never reads;
// protobufjs' light build (no parser) reading the pre-built JSON costs about 7 MiB less resident memory in
// every node plugin (measured with bench/node.ts). The wire functions are proto-loader's, one to one.
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs/light.js";
import type { ProtoGrpcType } from "./generated/csi.ts";
import { CSI_DESCRIPTOR_JSON } from "./generated/csi-descriptor.ts";

/** What proto-loader's `longs: String, enums: String, defaults: true, oneofs: true` mean for toObject. */
export const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

type CsiV1 = ProtoGrpcType["csi"]["v1"];
type ServiceName = "Identity" | "Controller" | "Node" | "GroupController" | "SnapshotMetadata";
export type CsiServices = { csi: { v1: Pick<CsiV1, ServiceName> } };

function serviceDefinition(service: protobuf.Service): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const m of service.methodsArray) {
    const req = m.resolvedRequestType!;
    const res = m.resolvedResponseType!;
    def[m.name] = {
      path: `/${service.fullName.slice(1)}/${m.name}`,
      requestStream: !!m.requestStream,
      responseStream: !!m.responseStream,
      requestSerialize: (value: object) => req.encode(req.fromObject(value)).finish() as Buffer,
      requestDeserialize: (bytes: Buffer) => req.toObject(req.decode(bytes), TO_OBJECT),
      responseSerialize: (value: object) => res.encode(res.fromObject(value)).finish() as Buffer,
      responseDeserialize: (bytes: Buffer) => res.toObject(res.decode(bytes), TO_OBJECT),
      // grpc-js also offers each method under this name (proto-loader: lodash.camelCase of the method name,
      // which for CSI's PascalCase names is the first letter lowered).
      originalName: m.name.charAt(0).toLowerCase() + m.name.slice(1),
    };
  }
  return def;
}

let cached: CsiServices | undefined;

export function loadCsi(): CsiServices {
  if (!cached) {
    const root = protobuf.Root.fromJSON(JSON.parse(CSI_DESCRIPTOR_JSON));
    root.resolveAll();
    const v1: Record<string, grpc.ServiceClientConstructor> = {};
    for (const name of ["Identity", "Controller", "Node", "GroupController", "SnapshotMetadata"]) {
      v1[name] = grpc.makeClientConstructor(serviceDefinition(root.lookupService(`csi.v1.${name}`)), name);
    }
    cached = { csi: { v1: v1 as unknown as CsiServices["csi"]["v1"] } };
  }
  return cached;
}
