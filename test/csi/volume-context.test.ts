// The controller/node contract (src/csi/volume-context.ts): what the controller encodes is exactly what
// the node decodes, host names are accepted as target addresses, and anything that could reach a
// command line in a harmful shape is refused with INVALID_ARGUMENT on both sides.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Code, CsiError } from "../../src/csi/errors.ts";
import {
  decodeGeneration,
  decodePublishContext,
  decodeVolumeContext,
  encodePublishContext,
  encodeVolumeContext,
  isNetworkAddress,
  type PublishContext,
  PublishKey,
} from "../../src/csi/volume-context.ts";
import { parseNvmeTarget, resolveTargetAddress } from "../../src/node/nvme/nvme-target.ts";

const base: PublishContext = {
  nqn: "nqn.2026-01.com.mikrotik.rds-csi:pvc-1",
  address: "rds.storage.example",
  port: 4420,
  filePath: "storage-pool/k8s/pvc-1.img",
};

const codeOf = (f: () => unknown): number | string => {
  try {
    f();
    return "OK";
  } catch (e) {
    return e instanceof CsiError ? e.code : String(e);
  }
};

describe("publish_context", () => {
  it("round-trips every field, host names included", () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.ipV4(),
          fc.ipV6(),
          fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join(".")),
        ),
        fc.integer({ min: 1, max: 65535 }),
        fc.option(fc.integer({ min: -1, max: 31_536_000 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 2 ** 52 }), { nil: undefined }),
        (address, port, ctrlLossTmo, generation) => {
          const p: PublishContext = { ...base, address, port };
          if (ctrlLossTmo !== undefined) p.ctrlLossTmo = ctrlLossTmo;
          if (generation !== undefined) p.generation = generation;
          expect(decodePublishContext(encodePublishContext(p))).toEqual(p);
        },
      ),
    );
  });

  it("the node's target parser takes a host name (it used to demand an IP) and keeps it unresolved", () => {
    const t = parseNvmeTarget(encodePublishContext(base));
    expect(t).toMatchObject({ kind: "nvme-tcp", address: "rds.storage.example", port: 4420 });
  });

  it("refuses what must never reach a command line or the kernel's option string", () => {
    const bad: Array<Record<string, string>> = [
      { [PublishKey.address]: "10.0.0.1,nqn=x" },
      { [PublishKey.address]: "host name" },
      { [PublishKey.address]: "-oProxyCommand=x" },
      { [PublishKey.address]: "" },
      { [PublishKey.nqn]: "nqn.x,hostnqn=y" },
      { [PublishKey.port]: "0" },
      { [PublishKey.port]: "44 20" },
      { [PublishKey.ctrlLossTmo]: "-2" },
      { [PublishKey.filePath]: "../etc/passwd" },
      { [PublishKey.filePath]: "pool/./x" },
      { [PublishKey.generation]: "0" },
      { [PublishKey.generation]: "01" },
      { [PublishKey.generation]: "9007199254740993" },
    ];
    for (const b of bad) {
      const ctx = { ...encodePublishContext(base), ...b };
      expect(
        codeOf(() => decodePublishContext(ctx)),
        JSON.stringify(b),
      ).toBe(Code.INVALID_ARGUMENT);
    }
    // The controller cannot hand such a value out either.
    expect(codeOf(() => encodePublishContext({ ...base, address: "a;b" }))).toBe(Code.INVALID_ARGUMENT);
    expect(codeOf(() => encodePublishContext({ ...base, generation: 0 }))).toBe(Code.INVALID_ARGUMENT);
  });

  it("an absent generation is undefined (attachments recorded before generations)", () => {
    const ctx = encodePublishContext(base);
    expect(ctx[PublishKey.generation]).toBeUndefined();
    expect(decodeGeneration(ctx)).toBeUndefined();
    expect(decodeGeneration(encodePublishContext({ ...base, generation: 7 }))).toBe(7);
  });

  it("isNetworkAddress accepts IPs and DNS names only", () => {
    for (const ok of ["10.0.0.1", "fe80::1", "rds", "rds-1.lan", "a.b.c.d.example"])
      expect(isNetworkAddress(ok), ok).toBe(true);
    for (const no of ["", "-rds", "rds-", "a..b", "a_b", "a b", "a;b", `${"a".repeat(64)}.x`])
      expect(isNetworkAddress(no), no).toBe(false);
  });
});

describe("name resolution on the node", () => {
  it("resolves a host name at connect through the system resolver (/etc/hosts here)", async () => {
    expect(await resolveTargetAddress("localhost")).toBe("127.0.0.1");
    expect(await resolveTargetAddress("10.1.2.3", () => Promise.reject(new Error("not called")))).toBe(
      "10.1.2.3",
    );
  });

  it("answers UNAVAILABLE when the name does not resolve (a retry may succeed once DNS is back)", async () => {
    const e = await resolveTargetAddress("rds.invalid", () =>
      Promise.reject(Object.assign(new Error("nope"), { code: "ENOTFOUND" })),
    ).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CsiError);
    expect((e as CsiError).code).toBe(Code.UNAVAILABLE);
    expect((e as CsiError).message).toMatch(/ENOTFOUND/);
  });
});

describe("volume_context", () => {
  it("round-trips, ignores keys that are not ours and refuses unsafe mkfs options", () => {
    const v = { name: "pvc-1", mkfsOptions: "-E lazy_itable_init=1" };
    expect(decodeVolumeContext(encodeVolumeContext(v))).toEqual(v);
    expect(decodeVolumeContext({ "csi.storage.k8s.io/pod.name": "x" })).toEqual({});
    expect(codeOf(() => decodeVolumeContext({ mkfsOptions: "-E x;reboot" }))).toBe(Code.INVALID_ARGUMENT);
    expect(codeOf(() => encodeVolumeContext({ name: "x", mkfsOptions: "$(id)" }))).toBe(
      Code.INVALID_ARGUMENT,
    );
  });
});
