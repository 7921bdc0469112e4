// The SSH surface: key-only auth (ed25519 and RSA, `name+opts` logins), exec only, CRLF output, where
// errors go (stdout + exit 0 like RouterOS, or stderr + non-zero when configured), connection statistics.

import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { generateEd25519KeyPair } from "../../src/sim/host-key.ts";
import type { Simulator } from "../../src/sim/types.ts";
import { clientKey, connect, execOn, startTestSim, tempDir } from "./helpers.ts";

const rsaKey = ssh2.utils.generateKeyPairSync("rsa", { bits: 2048, comment: "rsa-client" });
const strangerKey = generateEd25519KeyPair();

let sim: Simulator;
let dir: ReturnType<typeof tempDir>;

beforeAll(async () => {
  dir = tempDir();
  sim = await startTestSim({ dataDir: dir.dir, authorizedKeys: [clientKey.public, `${rsaKey.public}\n`] });
});

afterAll(async () => {
  await sim.close();
  dir.remove();
});

describe("authentication", () => {
  it("accepts the authorized ed25519 key with a name+options login and logs the base user", async () => {
    const s = await connect(sim, { user: "csi+ct511w4098h", hostKeyFingerprint: sim.hostKeyFingerprint });
    expect(await s.exec(':put "hi"')).toEqual({ stdout: "hi\r\n", stderr: "", code: 0 });
    s.close();
    expect(sim.commandLog.at(-1)).toMatchObject({ user: "csi", command: ':put "hi"', output: "hi\r\n" });
  });

  it("accepts an authorized RSA key", async () => {
    const s = await connect(sim, { user: "admin+ct", privateKey: rsaKey.private });
    expect((await s.exec(":put [/system resource get board-name]")).stdout).toBe("RDS2216\r\n");
    s.close();
  });

  it("refuses a key that is not authorized, and passwords", async () => {
    await expect(connect(sim, { privateKey: strangerKey.private })).rejects.toThrow(
      /authentication methods failed/,
    );
    const client = new ssh2.Client();
    const refused = new Promise<Error>((resolve) => client.once("error", resolve));
    client.connect({
      host: sim.host,
      port: sim.port,
      username: "admin",
      password: "admin",
      readyTimeout: 5000,
    });
    expect((await refused).message).toMatch(/authentication methods failed/);
  });

  it("generates ed25519 keys that always parse (works around an ssh2 generator bug)", () => {
    for (let i = 0; i < 600; i++) {
      const pair = generateEd25519KeyPair();
      expect(ssh2.utils.parseKey(pair.private)).not.toBeInstanceOf(Error);
      expect(ssh2.utils.parseKey(pair.public)).not.toBeInstanceOf(Error);
    }
  });

  it("publishes the host key and its SHA256 fingerprint for pinning", async () => {
    expect(sim.hostPublicKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);
    expect(sim.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    await expect(connect(sim, { hostKeyFingerprint: "SHA256:wrong" })).rejects.toThrow();
  });
});

describe("channels", () => {
  it("refuses shell and pty; exec works on the same connection afterwards", async () => {
    const s = await connect(sim);
    const shellError = await new Promise<Error | undefined>((resolve) =>
      s.client.shell((err) => resolve(err)),
    );
    expect(shellError).toBeInstanceOf(Error);
    const noPty = await new Promise<Error | undefined>((resolve) =>
      s.client.shell(false, (err) => resolve(err)),
    );
    expect(noPty).toBeInstanceOf(Error);
    expect((await s.exec(':put "still here"')).stdout).toBe("still here\r\n");
    s.close();
  });

  it("ends every output line with CRLF", async () => {
    const s = await connect(sim);
    const out = (await s.exec("/disk print detail")).stdout;
    expect(out.split("\n").length).toBeGreaterThan(5);
    expect(out.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);
    s.close();
  });

  it("prints RouterOS errors on stdout with exit status 0 (the appliance's behaviour)", async () => {
    const s = await connect(sim);
    expect(await s.exec("/disk remove nothing")).toEqual({ stdout: "no such item\r\n", stderr: "", code: 0 });
    expect(await s.exec(":put a; /disk remove nothing; :put b")).toEqual({
      stdout: "a\r\nno such item\r\n",
      stderr: "",
      code: 0,
    });
    s.close();
  });

  it("counts connections and concurrent channels", async () => {
    const before = sim.stats.totalConnections;
    const s = await connect(sim);
    expect(sim.stats.totalConnections).toBe(before + 1);
    expect(sim.stats.connections).toBeGreaterThanOrEqual(1);
    sim.faults.hang("__hold__");
    const held = [1, 2, 3].map(() => s.exec(':put "__hold__"'));
    await vi.waitFor(() => expect(sim.stats.channels).toBe(3));
    expect(sim.stats.maxConcurrentChannels).toBeGreaterThanOrEqual(3);
    sim.faults.clear();
    for (const r of await Promise.all(held)) expect(r.stdout).toBe("__hold__\r\n");
    await vi.waitFor(() => expect(sim.stats.channels).toBe(0));
    s.close();
    await vi.waitFor(() => expect(sim.stats.connections).toBe(0));
  });
});

describe("error stream configuration", () => {
  it("sends errors to stderr with a non-zero exit status when configured", async () => {
    const d = tempDir();
    const d2 = tempDir();
    const strict = await startTestSim({ dataDir: d.dir, errorStream: "stderr" });
    const custom = await startTestSim({ dataDir: d2.dir, errorStream: "stderr", errorExitCode: 7 });
    try {
      const s = await connect(strict);
      expect(await s.exec(":put a; /disk remove nothing")).toEqual({
        stdout: "a\r\n",
        stderr: "no such item\r\n",
        code: 1,
      });
      expect(await s.exec("/disk bogus")).toEqual({
        stdout: "",
        stderr: "bad command name bogus (line 1 column 7)\r\n",
        code: 1,
      });
      expect(await s.exec(':put "ok"')).toEqual({ stdout: "ok\r\n", stderr: "", code: 0 });
      s.close();
      const c = await connect(custom);
      expect((await execOn(c.client, "/disk remove nothing")).code).toBe(7);
      c.close();
    } finally {
      await strict.close();
      await custom.close();
      d.remove();
      d2.remove();
    }
  });
});
