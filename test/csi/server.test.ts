// The gRPC transport: error mapping in one place, request ids and redacted structured logs, and a
// SIGTERM-style drain that lets in-flight calls finish and removes the socket.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { connectCsi } from "../../src/csi/client.ts";
import { Code, CsiError } from "../../src/csi/errors.ts";
import { createIdentityService } from "../../src/csi/identity.ts";
import { CsiServer, toGrpcStatus } from "../../src/csi/server.ts";
import type { ControllerService } from "../../src/csi/types.ts";
import { createLogger, silentLogger } from "../../src/observability/logger.ts";
import { RdsError } from "../../src/rds/types.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const socketPath = () => {
  const d = mkdtempSync(join(tmpdir(), "csi-srv-"));
  dirs.push(d);
  return join(d, "csi.sock");
};

const identity = createIdentityService({
  driverName: "rds.csi.mikrotik.com",
  hasController: true,
  readinessChecks: [],
});

function controllerWith(impl: Partial<ControllerService>): ControllerService {
  return impl as ControllerService;
}

describe("error mapping", () => {
  it("keeps CsiError codes, maps appliance errors, and turns everything else into INTERNAL", () => {
    expect(toGrpcStatus(new CsiError(Code.NOT_FOUND, "x"))).toEqual({ code: Code.NOT_FOUND, details: "x" });
    expect(toGrpcStatus(new RdsError("no-space", "full")).code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(toGrpcStatus(new RdsError("unavailable", "down")).code).toBe(Code.UNAVAILABLE);
    expect(toGrpcStatus(new RdsError("timeout", "slow")).code).toBe(Code.UNAVAILABLE);
    expect(toGrpcStatus(new RdsError("permission", "not enough permissions (9)")).code).toBe(
      Code.FAILED_PRECONDITION,
    );
    expect(toGrpcStatus(new Error("boom"))).toEqual({ code: Code.INTERNAL, details: "boom" });
  });
});

describe("logging", () => {
  it("logs every call with a request id and never logs secrets", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l));
        cb();
      },
    });
    const log = createLogger({ level: "info", destination: sink });
    const controller = controllerWith({
      CreateVolume: async () => {
        throw new CsiError(Code.RESOURCE_EXHAUSTED, "pool full");
      },
    });
    const server = new CsiServer({ identity, controller }, log);
    const ep = await server.listen(`unix://${socketPath()}`);
    const csi = connectCsi(ep);
    const secret = "hunter2-private-key-material";
    await expect(
      csi.controller.CreateVolume({ name: "v1", secrets: { sshKey: secret, password: secret } }),
    ).rejects.toMatchObject({ code: Code.RESOURCE_EXHAUSTED, details: "pool full" });
    csi.close();
    await server.shutdown(1000);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(secret);
    const call = lines.find((l) => l.msg === "call" && l.method === "CreateVolume");
    const failed = lines.find((l) => l.msg === "failed" && l.method === "CreateVolume");
    expect(call?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(failed).toMatchObject({
      requestId: call?.requestId,
      code: "RESOURCE_EXHAUSTED",
      details: "pool full",
      volumeId: "v1",
    });
  });
});

describe("shutdown", () => {
  it("drains an in-flight call, refuses new ones, then removes the socket", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    const controller = controllerWith({
      DeleteVolume: async () => {
        started();
        await gate;
        return {};
      },
    });
    const sock = socketPath();
    const server = new CsiServer({ identity, controller }, silentLogger);
    const ep = await server.listen(`unix://${sock}`);
    const csi = connectCsi(ep);
    const slow = csi.controller.DeleteVolume({ volume_id: "v" });
    await running;
    const stopping = server.shutdown(10_000);
    await expect(csi.identity.GetPluginInfo({}, { deadlineMs: 2000 })).rejects.toBeDefined();
    expect(server.inflight).toBe(1);
    release();
    await expect(slow).resolves.toEqual({});
    await stopping;
    expect(existsSync(sock)).toBe(false);
    csi.close();
  });

  it("cancels calls still running at the deadline", async () => {
    let aborted = false;
    const controller = controllerWith({
      DeleteVolume: (_req, ctx) =>
        new Promise((_res, rej) => {
          ctx.signal.addEventListener("abort", () => {
            aborted = true;
            rej(new Error("aborted"));
          });
        }),
    });
    const server = new CsiServer({ identity, controller }, silentLogger);
    const ep = await server.listen(`unix://${socketPath()}`);
    const csi = connectCsi(ep);
    const hung = csi.controller.DeleteVolume({ volume_id: "v" }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 100));
    await server.shutdown(200);
    expect(aborted).toBe(true);
    expect(await hung).toBeInstanceOf(Error);
    csi.close();
  });
});
