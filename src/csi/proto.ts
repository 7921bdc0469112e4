// Loads proto/csi.proto (CSI spec v1.12.0) once. Options follow the CSI conventions for Node:
// int64 as strings (converted to numbers at the edge, see ./int64.ts), enums as strings, defaults filled.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { ProtoGrpcType } from "./generated/csi.ts";

export const CSI_PROTO_PATH = fileURLToPath(new URL("../../proto/csi.proto", import.meta.url));

let cached: ProtoGrpcType | undefined;

export function loadCsi(): ProtoGrpcType {
  if (!cached) {
    const def = protoLoader.loadSync(CSI_PROTO_PATH, {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    cached = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  }
  return cached;
}
