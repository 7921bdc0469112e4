// src/csi/proto.ts builds the gRPC services from a descriptor generated from proto/csi.proto instead of
// parsing the .proto with @grpc/proto-loader at start. The committed descriptor must be what the generator
// makes of the vendored .proto, and the services must be proto-loader's, byte for byte and object for
// object, with the CSI options (what the generated types in src/csi/generated describe).
import { readFileSync } from "node:fs";
import type * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import { CSI_PROTO, csiDescriptor, DESCRIPTOR_PATH } from "../../scripts/csi-descriptor.ts";
import { loadCsi } from "../../src/csi/proto.ts";

describe("CSI descriptor", () => {
  it("is what scripts/csi-descriptor.ts makes of proto/csi.proto (run it after changing the .proto)", () => {
    expect(readFileSync(DESCRIPTOR_PATH, "utf8")).toBe(csiDescriptor());
  });
});

const reference = protoLoader.loadSync(CSI_PROTO, {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const services = Object.entries(reference)
  .filter(([name, def]) => name.startsWith("csi.v1.") && !("format" in def))
  .map(([name, def]) => [name.slice("csi.v1.".length), def as grpc.ServiceDefinition] as const);
const ours = loadCsi().csi.v1 as unknown as Record<string, grpc.ServiceClientConstructor>;

// Messages with every kind of field the driver sends or receives: int64 as strings, enums, maps, repeated
// messages, oneofs (access type, content source), well-known types (Timestamp, wrappers), bytes-free.
const SAMPLES: Record<string, { request?: object; response?: object }> = {
  "Controller.CreateVolume": {
    request: {
      name: "pvc-1",
      capacity_range: { required_bytes: "1073741824", limit_bytes: "9007199254740993" },
      volume_capabilities: [
        { mount: { fs_type: "ext4", mount_flags: ["noatime"] }, access_mode: { mode: "SINGLE_NODE_WRITER" } },
        { block: {}, access_mode: { mode: "MULTI_NODE_MULTI_WRITER" } },
      ],
      parameters: { "rds.csi.mikrotik.com/layout": "file" },
      secrets: { token: "x" },
      volume_content_source: { snapshot: { snapshot_id: "snap-1" } },
      accessibility_requirements: { requisite: [{ segments: { zone: "a" } }], preferred: [] },
    },
    response: {
      volume: {
        capacity_bytes: "1073741824",
        volume_id: "pvc-1",
        volume_context: { a: "b" },
        content_source: { volume: { volume_id: "pvc-0" } },
        accessible_topology: [{ segments: { zone: "a" } }],
      },
    },
  },
  "Controller.ListSnapshots": {
    response: {
      entries: [
        {
          snapshot: {
            size_bytes: "42",
            snapshot_id: "snap-1",
            source_volume_id: "pvc-1",
            creation_time: { seconds: "1700000000", nanos: 5 },
            ready_to_use: true,
          },
        },
      ],
      next_token: "2",
    },
  },
  "Controller.ControllerGetCapabilities": {
    response: {
      capabilities: [{ rpc: { type: "CREATE_DELETE_VOLUME" } }, { rpc: { type: "CLONE_VOLUME" } }],
    },
  },
  "Node.NodeStageVolume": {
    request: {
      volume_id: "pvc-1",
      publish_context: { nqn: "nqn.x" },
      staging_target_path: "/staging",
      volume_capability: { block: {}, access_mode: { mode: "SINGLE_NODE_MULTI_WRITER" } },
      secrets: {},
      volume_context: {},
    },
  },
  "Node.NodeGetVolumeStats": {
    response: {
      usage: [
        { available: "1", total: "3", used: "2", unit: "BYTES" },
        { available: "10", total: "30", used: "20", unit: "INODES" },
      ],
      volume_condition: { abnormal: true, message: "I/O error" },
    },
  },
  "Node.NodeGetInfo": {
    response: {
      node_id: "n1",
      max_volumes_per_node: "32",
      accessible_topology: { segments: { "rds.csi.mikrotik.com/appliance": "rds1" } },
    },
  },
  "Identity.Probe": { response: { ready: { value: true } } },
  "Identity.GetPluginCapabilities": {
    response: {
      capabilities: [{ service: { type: "CONTROLLER_SERVICE" } }, { volume_expansion: { type: "ONLINE" } }],
    },
  },
};

describe("CSI services", () => {
  it("are the services and methods proto-loader finds in the .proto", () => {
    expect(services.map(([name]) => name).sort()).toEqual(Object.keys(ours).sort());
    for (const [name, def] of services) {
      const mine = ours[name]!.service;
      expect(Object.keys(mine), name).toEqual(Object.keys(def));
      for (const [method, attrs] of Object.entries(def)) {
        const m = mine[method]!;
        expect(
          { path: m.path, requestStream: m.requestStream, responseStream: m.responseStream },
          `${name}.${method}`,
        ).toEqual({
          path: attrs.path,
          requestStream: attrs.requestStream,
          responseStream: attrs.responseStream,
        });
        expect(m.originalName).toBe(attrs.originalName);
      }
    }
  });

  it("encode and decode every request and response exactly like proto-loader", () => {
    let compared = 0;
    for (const [name, def] of services) {
      const mine = ours[name]!.service;
      for (const [method, ref] of Object.entries(def)) {
        const m = mine[method]!;
        const sample = SAMPLES[`${name}.${method}`] ?? {};
        for (const [value, refSer, refDe, ser, de] of [
          [
            sample.request ?? {},
            ref.requestSerialize,
            ref.requestDeserialize,
            m.requestSerialize,
            m.requestDeserialize,
          ],
          [
            sample.response ?? {},
            ref.responseSerialize,
            ref.responseDeserialize,
            m.responseSerialize,
            m.responseDeserialize,
          ],
        ] as const) {
          const bytes = refSer(value);
          expect(Buffer.from(ser(value)), `${name}.${method} encoding`).toEqual(Buffer.from(bytes));
          expect(de(bytes), `${name}.${method} decoding`).toEqual(refDe(bytes));
          compared++;
        }
      }
    }
    // Every sample was used (a renamed method must not silently drop out of the comparison).
    for (const key of Object.keys(SAMPLES)) {
      const [service, method] = key.split(".") as [string, string];
      expect(ours[service]?.service[method], key).toBeDefined();
    }
    const methods = services.reduce((n, [, def]) => n + Object.keys(def).length, 0);
    expect(methods).toBeGreaterThan(30); // CSI v1.12: Identity 3, Controller 14, Node 7, GroupController 4, ...
    expect(compared).toBe(2 * methods);
  });
});
