// Every error code the controller promises, injection attempts that must never reach the appliance,
// and SSH host key pinning.
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/observability/logger.ts";
import { createRdsClient } from "../../src/rds/client.ts";
import { blockCap, codeOf, GiB, mountCap, useControllerEnv } from "../helpers/controller-env.ts";

const env = useControllerEnv();

const VOL = "pvc-0000aaaa-0000-4000-8000-000000000001";

describe("error codes", () => {
  it("maps bad requests to the CSI codes", async () => {
    const c = env().csi.controller;
    const size = { required_bytes: String(GiB) };
    expect(await codeOf(c.CreateVolume({ capacity_range: size, volume_capabilities: [mountCap()] }))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(await codeOf(c.CreateVolume({ name: VOL, capacity_range: size }))).toBe("INVALID_ARGUMENT");
    expect(
      await codeOf(
        c.CreateVolume({
          name: VOL,
          capacity_range: size,
          volume_capabilities: [mountCap("MULTI_NODE_MULTI_WRITER")],
        }),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(
      await codeOf(
        c.CreateVolume({
          name: VOL,
          capacity_range: size,
          volume_capabilities: [mountCap("SINGLE_NODE_WRITER", "ntfs")],
        }),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(
      await codeOf(
        c.CreateVolume({
          name: VOL,
          capacity_range: size,
          volume_capabilities: [mountCap()],
          parameters: { volumPath: "x/y" },
        }),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(
      await codeOf(
        c.CreateVolume({
          name: VOL,
          capacity_range: { required_bytes: String(2 * GiB), limit_bytes: String(GiB) },
          volume_capabilities: [mountCap()],
        }),
      ),
    ).toBe("OUT_OF_RANGE");
    expect(
      await codeOf(
        c.CreateVolume({
          name: VOL,
          capacity_range: { required_bytes: String(10_000 * GiB) },
          volume_capabilities: [mountCap()],
        }),
      ),
    ).toBe("RESOURCE_EXHAUSTED");
    expect(await codeOf(c.DeleteVolume({}))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(c.DeleteVolume({ volume_id: "fake-vol-id" }))).toBe("OK");
    expect(
      await codeOf(c.ValidateVolumeCapabilities({ volume_id: VOL, volume_capabilities: [mountCap()] })),
    ).toBe("NOT_FOUND");
    expect(await codeOf(c.ListVolumes({ starting_token: "bogus-token" }))).toBe("ABORTED");
    expect(await codeOf(c.ControllerGetVolume({ volume_id: VOL }))).toBe("NOT_FOUND");
    expect(await codeOf(c.ControllerExpandVolume({ volume_id: VOL, capacity_range: size }))).toBe(
      "NOT_FOUND",
    );
    expect(
      await codeOf(
        c.ControllerPublishVolume({ volume_id: VOL, node_id: "node-a", volume_capability: mountCap() }),
      ),
    ).toBe("NOT_FOUND");
    expect(await codeOf(c.CreateSnapshot({ name: "s", source_volume_id: VOL }))).toBe("NOT_FOUND");
  });

  it("reports a full pool as RESOURCE_EXHAUSTED", async () => {
    env().rds.sim.faults.diskFull(true);
    try {
      expect(
        await codeOf(
          env().csi.controller.CreateVolume({
            name: VOL,
            capacity_range: { required_bytes: String(GiB) },
            volume_capabilities: [mountCap()],
          }),
        ),
      ).toBe("RESOURCE_EXHAUSTED");
    } finally {
      env().rds.sim.faults.diskFull(false);
    }
    expect(await env().client.getDisk(VOL)).toBeUndefined();
  });

  it("fences attachments: RWO on one node, RWX block on two, unknown nodes NOT_FOUND", async () => {
    const c = env().csi.controller;
    await c.CreateVolume({
      name: VOL,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [mountCap()],
    });
    expect(
      await codeOf(
        c.ControllerPublishVolume({ volume_id: VOL, node_id: "no-such-node", volume_capability: mountCap() }),
      ),
    ).toBe("NOT_FOUND");
    await c.ControllerPublishVolume({ volume_id: VOL, node_id: "node-a", volume_capability: mountCap() });
    expect(
      await codeOf(
        c.ControllerPublishVolume({ volume_id: VOL, node_id: "node-a", volume_capability: mountCap() }),
      ),
    ).toBe("OK");
    expect(
      await codeOf(
        c.ControllerPublishVolume({
          volume_id: VOL,
          node_id: "node-a",
          volume_capability: mountCap(),
          readonly: true,
        }),
      ),
    ).toBe("ALREADY_EXISTS");
    expect(
      await codeOf(
        c.ControllerPublishVolume({ volume_id: VOL, node_id: "node-b", volume_capability: mountCap() }),
      ),
    ).toBe("FAILED_PRECONDITION");
    expect(await codeOf(c.DeleteVolume({ volume_id: VOL }))).toBe("FAILED_PRECONDITION");
    await c.ControllerUnpublishVolume({ volume_id: VOL, node_id: "node-a" });
    await c.ControllerUnpublishVolume({ volume_id: VOL, node_id: "node-a" });
    await c.ControllerPublishVolume({ volume_id: VOL, node_id: "node-b", volume_capability: mountCap() });
    await c.ControllerUnpublishVolume({ volume_id: VOL, node_id: "node-b" });
    await c.DeleteVolume({ volume_id: VOL });

    const rwx = blockCap("MULTI_NODE_MULTI_WRITER");
    await c.CreateVolume({
      name: VOL,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [rwx],
    });
    await c.ControllerPublishVolume({ volume_id: VOL, node_id: "node-a", volume_capability: rwx });
    await c.ControllerPublishVolume({ volume_id: VOL, node_id: "node-b", volume_capability: rwx });
    expect((await env().client.getDisk(VOL))?.allowedHosts).toHaveLength(2);
    expect(
      await codeOf(c.ControllerPublishVolume({ volume_id: VOL, node_id: "node-c", volume_capability: rwx })),
    ).toBe("FAILED_PRECONDITION");
    const before = env().rds.sim.commandLog.length;
    await c.ControllerUnpublishVolume({ volume_id: VOL, node_id: "node-a" });
    // The end of a migration: the destination stays connected, so the export is not bounced.
    expect(
      env()
        .rds.sim.commandLog.slice(before)
        .some((e) => e.command.includes("nvme-tcp-export=no")),
    ).toBe(false);
    const disk = await env().client.getDisk(VOL);
    expect(disk?.nvmeExport).toBe(true); // the source leaving a migration keeps the export
    expect(disk?.allowedHosts).toHaveLength(1);
    await c.ControllerUnpublishVolume({ volume_id: VOL, node_id: "node-b" });
    await c.DeleteVolume({ volume_id: VOL });
  });
});

describe("injection attempts", () => {
  const nasty = [
    'a";/system reboot;"',
    "x;/disk remove [find]",
    "y[/file remove [find]]",
    "$(reboot)",
    "line\nbreak",
    'q"uote',
    "back\\slash",
    "z".repeat(10_000),
  ];

  it("are refused with INVALID_ARGUMENT or never reach the RouterOS command line", async () => {
    const c = env().csi.controller;
    const logBefore = env().rds.sim.commandLog.length;
    for (const bad of nasty) {
      for (const key of ["volumePath", "nvmeAddress", "mkfsOptions", "nvmePort"]) {
        const parameters: Record<string, string> = { [key]: bad };
        expect(
          await codeOf(
            c.CreateVolume({
              name: "ok-name",
              capacity_range: { required_bytes: String(GiB) },
              volume_capabilities: [mountCap()],
              parameters,
            }),
          ),
        ).toBe("INVALID_ARGUMENT");
      }
      expect(await codeOf(c.DeleteVolume({ volume_id: bad }))).toBe("OK");
      expect(await codeOf(c.ControllerGetVolume({ volume_id: bad }))).toBe("NOT_FOUND");
      expect(
        await codeOf(c.ControllerExpandVolume({ volume_id: bad, capacity_range: { required_bytes: "1" } })),
      ).toBe("NOT_FOUND");
      expect(await codeOf(c.ListVolumes({ starting_token: bad }))).toBe("ABORTED");
    }
    expect(
      await codeOf(
        c.CreateVolume({
          name: "z".repeat(10_000),
          capacity_range: { required_bytes: String(GiB) },
          volume_capabilities: [mountCap()],
        }),
      ),
    ).toBe("INVALID_ARGUMENT");
    // A hostile name is legal in CSI: it becomes a hashed slot and travels only inside the base64 record.
    const hostile = await c.CreateVolume({
      name: nasty[0]!,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [blockCap()],
    });
    expect(hostile.volume?.volume_id).toMatch(/^csi-[0-9a-f]{24}$/);
    await c.DeleteVolume({ volume_id: hostile.volume!.volume_id! });
    const sent = env()
      .rds.sim.commandLog.slice(logBefore)
      .map((e) => e.command)
      .join("\n");
    for (const needle of ["reboot", "$(", 'q"uote', "back\\slash", "zzzzzzzzzz", "[/file remove"])
      expect(sent).not.toContain(needle);
  });
});

describe("host key pinning", () => {
  it("refuses an RDS whose host key does not match the pin, sending no command", async () => {
    const wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const client = createRdsClient(
      {
        host: env().rds.sim.host,
        port: env().rds.sim.port,
        user: env().rds.user,
        privateKey: env().rds.privateKey,
        hostKey: wrong,
        commandTimeoutMs: 3000,
      },
      silentLogger,
    );
    const before = env().rds.sim.commandLog.length;
    await expect(client.ping()).rejects.toMatchObject({ kind: "unavailable" });
    expect(env().rds.sim.commandLog.length).toBe(before);
    await client.close();
  });

  it("Probe reports the RDS as reachable", async () => {
    const probe = await env().csi.identity.Probe({});
    expect(probe.ready?.value).toBe(true);
  });
});
