// The simulator's nvmet exports are opt-in and degrade cleanly: off by default, "auto" falls back to the
// plain simulator where the kernel has no nvmet (this machine), "required" refuses to start. The exports
// themselves need the guest kernel of the e2e VM and are tested there (test/e2e/, docs/e2e.md).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmbeddedRds } from "../../src/sim/embedded.ts";
import { NvmetExporter } from "../../src/sim/nvmet-export.ts";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("nvmet exports", () => {
  it("are off unless asked for", async () => {
    expect(await NvmetExporter.open({ mode: "off" })).toBeUndefined();
    const rds = await startEmbeddedRds();
    try {
      expect(rds.sim.nvmet).toBeUndefined();
    } finally {
      await rds.close();
      rmSync(rds.dataDir, { recursive: true, force: true });
    }
  });

  it("fall back to the plain simulator in auto mode when configfs has no nvmet, saying why", async () => {
    dir = mkdtempSync(join(tmpdir(), "no-nvmet-"));
    const log: string[] = [];
    expect(
      await NvmetExporter.open({ mode: "auto", configfsRoot: dir, log: (m) => log.push(m) }),
    ).toBeUndefined();
    expect(log.join("\n")).toMatch(/nvmet exports off: .*nvmet does not exist/);
  });

  it("refuse to start in required mode without nvmet", async () => {
    dir = mkdtempSync(join(tmpdir(), "no-nvmet-"));
    await expect(NvmetExporter.open({ mode: "required", configfsRoot: dir })).rejects.toThrow(
      /nvmet exports are required but unavailable/,
    );
  });

  it("refuse an address that is not an IP address", async () => {
    await expect(NvmetExporter.open({ mode: "auto", address: "rds.local" })).rejects.toThrow(/IP address/);
  });
});
