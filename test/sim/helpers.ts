// Test helpers: a simulator on a temporary data directory and a real SSH client (ssh2.Client) over loopback.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { generateEd25519KeyPair } from "../../src/sim/host-key.ts";
import { startSimulator } from "../../src/sim/simulator.ts";
import type { Simulator, SimulatorOptions } from "../../src/sim/types.ts";

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | undefined;
}

export interface SshSession {
  exec(command: string): Promise<ExecResult>;
  client: ssh2.Client;
  close(): void;
}

export const clientKey = generateEd25519KeyPair("sim-test");

export function tempDir(prefix = "rds-sim-test-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startTestSim(
  opts: Partial<SimulatorOptions> & { dataDir: string },
): Promise<Simulator> {
  return startSimulator({ authorizedKeys: [clientKey.public], ...opts });
}

export function connect(
  sim: Simulator,
  opts: { user?: string; privateKey?: string; hostKeyFingerprint?: string } = {},
): Promise<SshSession> {
  const client = new ssh2.Client();
  return new Promise((resolve, reject) => {
    client.once("ready", () => {
      client.off("error", reject);
      // After login, a dropped connection (fault tests, simulator shutdown) is expected: exec calls see it.
      client.on("error", () => undefined);
      client.setNoDelay(true);
      resolve({
        client,
        exec: (command) => execOn(client, command),
        close: () => client.end(),
      });
    });
    client.once("error", reject);
    client.connect({
      host: sim.host,
      port: sim.port,
      username: opts.user ?? "admin",
      privateKey: opts.privateKey ?? clientKey.private,
      readyTimeout: 5000,
      hostVerifier: opts.hostKeyFingerprint
        ? (key: Buffer) => fingerprintOf(key) === opts.hostKeyFingerprint
        : undefined,
    });
  });
}

export function fingerprintOf(hostKeyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(hostKeyBlob).digest("base64").replace(/=+$/, "")}`;
}

export function execOn(client: ssh2.Client, command: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(err);
      let stdout = "";
      let stderr = "";
      let code: number | undefined;
      stream.on("data", (d: Buffer) => {
        stdout += d.toString("utf8");
      });
      stream.stderr.on("data", (d: Buffer) => {
        stderr += d.toString("utf8");
      });
      stream.on("exit", (c: number) => {
        code = c;
      });
      stream.on("close", () => resolve({ stdout, stderr, code }));
    });
  });
}

/** One-shot helper: connect, run commands in order, disconnect. */
export async function runAll(sim: Simulator, commands: string[], user?: string): Promise<ExecResult[]> {
  const s = await connect(sim, { user });
  try {
    const out: ExecResult[] = [];
    for (const c of commands) out.push(await s.exec(c));
    return out;
  } finally {
    s.close();
  }
}
