// Generates src/csi/generated/csi-descriptor.json from proto/csi.proto: the CSI messages and services as
// protobufjs JSON, which src/csi/proto.ts loads at start instead of parsing the .proto.
//
// Why: parsing csi.proto (about 2,000 lines, mostly comments) with @grpc/proto-loader pulls in the protobuf
// parser, google/protobuf/descriptor.proto and proto-loader's per-message descriptor objects that gRPC never
// uses; together about 11 MiB of resident memory in every node plugin (measured, see bench/node.ts). The JSON
// holds only what encoding needs: csi.v1 without its option extensions (csi_secret, alpha_field, ...: they
// only annotate the spec) and the google.protobuf types csi.v1 refers to (Timestamp, wrappers).
//
// Usage: node scripts/csi-descriptor.ts   (scripts/update-proto.sh runs it after re-vendoring; a test
// checks that the committed file is what this produces). Never edit the JSON by hand.
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import protobuf from "protobufjs";

const ROOT = resolve(import.meta.dirname, "..");
export const CSI_PROTO = join(ROOT, "proto", "csi.proto");
export const DESCRIPTOR_PATH = join(ROOT, "src", "csi", "generated", "csi-descriptor.json");

type JsonNamespace = { nested?: Record<string, JsonNamespace & { extend?: string }> } & Record<
  string,
  unknown
>;

/** The descriptor as a JSON string (stable: protobufjs keeps the .proto's declaration order). */
export function csiDescriptor(protoPath = CSI_PROTO): string {
  // csi.proto imports google/protobuf/descriptor.proto for its option extensions; protobufjs ships it as
  // JSON but does not register it as a common file by itself.
  const require = createRequire(import.meta.url);
  const descriptorJson = require("protobufjs/google/protobuf/descriptor.json") as {
    nested: { google: { nested: { protobuf: { nested: protobuf.INamespace["nested"] } } } };
  };
  protobuf.common("descriptor", descriptorJson.nested.google.nested.protobuf.nested ?? {});
  const root = new protobuf.Root().loadSync(protoPath, { keepCase: true });
  root.resolveAll();

  const v1 = root.lookup("csi.v1") as protobuf.Namespace;
  const wellKnown = new Set<string>();
  const visit = (ns: protobuf.NamespaceBase) => {
    for (const o of ns.nestedArray) {
      if (o instanceof protobuf.Type)
        for (const f of o.fieldsArray)
          if (f.resolvedType?.fullName.startsWith(".google.protobuf.")) wellKnown.add(f.resolvedType.name);
      if (o instanceof protobuf.Namespace) visit(o);
    }
  };
  visit(v1);

  const json = root.toJSON() as JsonNamespace;
  const csiV1 = json.nested!.csi!.nested!.v1!;
  for (const [name, entry] of Object.entries(csiV1.nested ?? {}))
    if (entry.extend) delete csiV1.nested![name];
  const google = json.nested!.google!.nested!.protobuf!;
  for (const name of Object.keys(google.nested ?? {})) if (!wellKnown.has(name)) delete google.nested![name];
  return `${JSON.stringify(json, null, 1)}\n`;
}

if (import.meta.main) {
  writeFileSync(DESCRIPTOR_PATH, csiDescriptor());
  console.log(`wrote ${relative(process.cwd(), DESCRIPTOR_PATH)}`);
}
