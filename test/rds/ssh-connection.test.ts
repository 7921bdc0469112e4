// SshConnection against a real ssh2.Server on loopback (helpers/fake-ssh-server.ts).
import { once } from "node:events";
import { type AddressInfo, connect as connectTcp, createServer, type Socket } from "node:net";
import type { ServerChannel } from "ssh2";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/observability/logger.ts";
import { metrics } from "../../src/observability/metrics.ts";
import { checkResult } from "../../src/rds/result.ts";
import { loginName, SshConnection, type SshConnectionOptions, verbOf } from "../../src/rds/ssh-connection.ts";
import { RdsError } from "../../src/rds/types.ts";
import { captureLog } from "./helpers/capture-log.ts";
import { type FakeSsh, generateKeys, reply, startFakeSsh } from "./helpers/fake-ssh-server.ts";

const clientKeys = generateKeys();
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function server(opts: Partial<Parameters<typeof startFakeSsh>[0]> = {}): Promise<FakeSsh> {
  const s = await startFakeSsh({ clientPublicKeys: [clientKeys.public], ...opts });
  cleanup.push(() => s.close());
  return s;
}

function connect(s: FakeSsh, opts: Partial<SshConnectionOptions> = {}, log = silentLogger): SshConnection {
  const c = new SshConnection(
    {
      host: "127.0.0.1",
      port: s.port,
      user: "csi",
      privateKey: clientKeys.private,
      hostKey: s.hostFingerprint,
      reconnectBaseMs: 20,
      ...opts,
    },
    log,
  );
  cleanup.push(() => c.close());
  return c;
}

const rejection = async (p: Promise<unknown>): Promise<RdsError> => {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RdsError);
    return e as RdsError;
  }
  throw new Error("expected a rejection");
};

describe("exec", () => {
  it("runs a command on one persistent connection and logs in as user+ct", async () => {
    const s = await server({
      handler: (cmd, ch) => reply(ch, `ran ${cmd}\r\n`, { stderr: "warn\r\n", code: 3 }),
    });
    const c = connect(s);
    expect(c.connected).toBe(false); // lazy
    const r = await c.exec("/system resource print");
    expect(r).toEqual({ stdout: "ran /system resource print\r\n", stderr: "warn\r\n", code: 3 });
    await c.exec(":put 1");
    expect(c.connected).toBe(true);
    expect(s.connections).toBe(1);
    expect(s.usernames.every((u) => u === "csi+ct")).toBe(true);
  });

  it("keeps a user's own +options", () => {
    expect(loginName("admin")).toBe("admin+ct");
    expect(loginName("admin+c80w")).toBe("admin+c80w");
  });

  it("labels metrics with the menu and verb only", () => {
    expect(verbOf('/disk print detail where slot="x"')).toBe("/disk print");
    expect(verbOf("/disk set [find where slot=x] comment=y; :put ok")).toBe("/disk set");
    expect(verbOf('/file add type=directory name="a/b"')).toBe("/file add");
    expect(verbOf(':put "__RDS_OK__"')).toBe(":put");
  });

  it("classifies errors printed on stdout with exit 0 and on stderr with exit 1", async () => {
    const s = await server({
      handler: (cmd, ch) =>
        cmd.includes("stdout")
          ? reply(ch, "failure: not enough space\r\n")
          : reply(ch, "", { stderr: "no such item\r\n", code: 1 }),
    });
    const c = connect(s);
    const onStdout = await c.exec("stdout");
    expect(() => checkResult(onStdout, "stdout", { mutation: true })).toThrow(
      expect.objectContaining({ kind: "no-space" }),
    );
    const onStderr = await c.exec("stderr");
    expect(() => checkResult(onStderr, "stderr", { mutation: true })).toThrow(
      expect.objectContaining({ kind: "not-found" }),
    );
  });

  it("works with an RSA key and with a passphrase-protected ed25519 key", async () => {
    const rsa = generateKeys("rsa");
    const locked = generateKeys("ed25519", "s3cret-pass");
    const s = await server({ clientPublicKeys: [rsa.public, locked.public] });
    await connect(s, { privateKey: rsa.private }).exec(":put 1");
    await connect(s, { privateKey: locked.private, passphrase: "s3cret-pass" }).exec(":put 1");
    expect(() => connect(s, { privateKey: locked.private })).toThrow(/private key/);
    expect(() => connect(s, { privateKey: "not a key", passphrase: "s3cret-pass" })).toThrow(
      expect.objectContaining({ kind: "invalid", message: expect.not.stringContaining("s3cret") }),
    );
  });

  it("fails with unavailable when the key is not authorized", async () => {
    const s = await server();
    const other = generateKeys();
    const e = await rejection(connect(s, { privateKey: other.private }).exec(":put 1"));
    expect(e.kind).toBe("unavailable");
  });
});

describe("channel cap", () => {
  it("never opens more than maxChannels and serves the queue in FIFO order", async () => {
    const held: ServerChannel[] = [];
    const s = await server({ handler: (cmd, ch) => held.push(Object.assign(ch, { cmd })) });
    const c = connect(s, { maxChannels: 3 });
    const runs = Array.from({ length: 10 }, (_, i) => c.exec(`cmd-${i}`));
    await s.waitForOpenChannels(3);
    expect(c.stats).toMatchObject({ slotsInUse: 3, queued: 7 });
    for (let done = 0; done < 10; done++) {
      await s.waitFor(() => held.length === Math.min(3, 10 - done));
      reply(held.shift() as ServerChannel, "ok\r\n");
    }
    await Promise.all(runs);
    expect(s.maxOpenChannels).toBe(3);
    expect(s.commands).toEqual(Array.from({ length: 10 }, (_, i) => `cmd-${i}`));
    expect(c.stats).toEqual({ openChannels: 0, slotsInUse: 0, queued: 0 });
  });

  it("a command that times out in the queue never reaches the server", async () => {
    const held: ServerChannel[] = [];
    const s = await server({ handler: (cmd, ch) => (cmd === "third" ? reply(ch, "ok\r\n") : held.push(ch)) });
    const c = connect(s, { maxChannels: 1 });
    const first = c.exec("first");
    await s.waitForOpenChannels(1);
    const e = await rejection(c.exec("second", { timeoutMs: 100 }));
    expect(e.kind).toBe("timeout");
    reply(held.shift() as ServerChannel, "ok\r\n");
    await first;
    await c.exec("third");
    expect(s.commands).toEqual(["first", "third"]);
  });
});

describe("timeouts", () => {
  it("a command that hangs fails with timeout and its channel is closed", async () => {
    let hungClosed: Promise<void> | undefined;
    const s = await server({
      handler: (cmd, ch) => {
        if (cmd !== "hang") return reply(ch, "ok\r\n");
        hungClosed = new Promise((resolve) => ch.on("close", () => resolve()));
      },
    });
    const c = connect(s);
    const timeouts = async () =>
      (await metrics.sshCommandDuration.get()).values.find(
        (v) => v.metricName?.endsWith("_count") && v.labels.result === "timeout" && v.labels.verb === "other",
      )?.value ?? 0;
    const before = await timeouts();
    const e = await rejection(c.exec("hang", { timeoutMs: 150 }));
    expect(e.kind).toBe("timeout");
    expect(e.command).toBe("hang");
    await hungClosed; // the server saw the channel close
    expect(s.openChannels).toBe(0);
    expect((await c.exec("next")).stdout).toBe("ok\r\n"); // the connection survived
    expect(await timeouts()).toBe(before + 1);
  });

  it("an abort signal from the caller closes the channel too", async () => {
    let closed: Promise<void> | undefined;
    const s = await server({
      handler: (_cmd, ch) => (closed = new Promise((r) => ch.on("close", () => r()))),
    });
    const c = connect(s);
    const ac = new AbortController();
    const run = c.exec("hang", { signal: ac.signal });
    await s.waitForOpenChannels(1);
    ac.abort();
    expect((await rejection(run)).kind).toBe("timeout");
    await closed;
  });
});

describe("connection loss", () => {
  it("a drop mid-command fails that command with unavailable, then reconnects", async () => {
    const s = await server({
      handler: (cmd, ch, conn) => (cmd === "drop" ? conn.end() : reply(ch, "ok\r\n")),
    });
    const c = connect(s);
    await c.exec("warm-up");
    const e = await rejection(c.exec("drop"));
    expect(e.kind).toBe("unavailable");
    await s.waitForConnections(2); // reconnected in the background
    expect((await c.exec("after")).stdout).toBe("ok\r\n");
    expect(s.commands.filter((x) => x === "drop")).toHaveLength(1); // never re-sent
  });

  it("reconnects after the server drops an idle connection", async () => {
    const s = await server();
    const c = connect(s);
    await c.exec("one");
    s.dropAll();
    await s.waitForConnections(2);
    await c.exec("two");
    expect(c.connected).toBe(true);
  });

  it("fails fast while the RDS is down and recovers when it is back", async () => {
    const hostKey = generateKeys().private;
    const first = await server({ hostKey });
    const port = first.port;
    const c = connect(first, { reconnectBaseMs: 50, reconnectMaxMs: 200 });
    await c.exec("one");
    await first.close();
    const e = await rejection(c.exec("while-down", { timeoutMs: 2000 }));
    expect(e.kind).toBe("unavailable");
    const second = await server({ port, hostKey }); // the same appliance, back up
    // The back-off is capped at 200 ms: a command with a longer budget waits for the next attempt.
    await c.exec("back", { timeoutMs: 5000 });
    expect(second.commands).toEqual(["back"]);
  });
});

describe("host key pinning", () => {
  it("accepts the key as a SHA256 fingerprint and as an OpenSSH public key line", async () => {
    const s = await server();
    await connect(s, { hostKey: s.hostFingerprint }).exec("a");
    await connect(s, { hostKey: `${s.hostPublicKey} router@rds` }).exec("b");
    expect(s.commands).toEqual(["a", "b"]);
  });

  it("refuses a mismatching key, logs a security event and counts it", async () => {
    const s = await server();
    const other = generateKeys();
    const otherLine = other.public.split(" ").slice(0, 2).join(" ");
    const cap = captureLog();
    const before = (await metrics.hostKeyMismatch.get()).values[0]?.value ?? 0;
    const e = await rejection(connect(s, { hostKey: otherLine }, cap.log).exec("never"));
    expect(e.kind).toBe("unavailable");
    expect(e.message).toMatch(/host key/);
    expect(s.commands).toEqual([]);
    const event = cap.entries.find((x) => x.event === "host-key-mismatch");
    expect(event).toMatchObject({ security: true, level: "error", actual: s.hostFingerprint });
    expect(event?.expected).not.toBe(s.hostFingerprint);
    expect((await metrics.hostKeyMismatch.get()).values[0]?.value).toBeGreaterThan(before);
    expect(cap.text()).not.toContain("PRIVATE KEY");
  });

  it("requires a pin unless insecure mode is explicit, which warns once per connection", async () => {
    const s = await server();
    expect(() => connect(s, { hostKey: undefined })).toThrow(/host key/);
    expect(() => connect(s, { hostKey: "ssh-ed25519 bm90LWEta2V5" })).toThrow(/host key/);
    const cap = captureLog();
    const c = connect(s, { hostKey: undefined, insecureSkipHostKeyCheck: true }, cap.log);
    await c.exec("x");
    await c.exec("y");
    const warnings = cap.entries.filter((x) => x.event === "host-key-unverified");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ security: true, level: "warn", actual: s.hostFingerprint });
  });
});

/** A loopback TCP proxy that can stop forwarding without closing anything: a peer that vanished. */
async function blackHoleProxy(
  targetPort: number,
): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const proxy = createServer((downstream) => {
    const upstream = connectTcp(targetPort, "127.0.0.1");
    for (const s of [downstream, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
    }
    downstream.on("data", (d) => frozen || upstream.write(d));
    upstream.on("data", (d) => frozen || downstream.write(d));
    downstream.on("close", () => upstream.destroy());
    upstream.on("close", () => downstream.destroy());
  });
  proxy.listen(0, "127.0.0.1");
  await once(proxy, "listening");
  return {
    port: (proxy.address() as AddressInfo).port,
    freeze: () => {
      frozen = true;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

describe("keepalive and metrics", () => {
  it("a silent peer is detected by keepalives: the running command fails unavailable, not at its timeout", async () => {
    const s = await server({ handler: (cmd, ch) => cmd !== "stuck" && reply(ch, "ok\r\n") });
    const proxy = await blackHoleProxy(s.port);
    cleanup.push(() => proxy.close());
    const c = connect(s, {
      port: proxy.port,
      keepaliveIntervalMs: 50,
      keepaliveCountMax: 2,
      reconnectMaxMs: 100,
    });
    await c.exec("warm-up");
    const stuck = c.exec("stuck", { timeoutMs: 30_000 });
    await s.waitForOpenChannels(1);
    proxy.freeze();
    expect((await rejection(stuck)).kind).toBe("unavailable");
    expect(c.connected).toBe(false);
  });

  it("reports connected, reconnects and channel gauges", async () => {
    const s = await server();
    const value = async (
      m: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> },
      labels = {},
    ) =>
      (await m.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
        ?.value ?? 0;
    const successes = await value(metrics.sshReconnects, { result: "success" });
    const c = connect(s);
    await c.exec("one");
    expect(await value(metrics.sshConnected)).toBe(1);
    expect(await value(metrics.sshReconnects, { result: "success" })).toBe(successes + 1);
    expect(await value(metrics.sshChannelsInUse)).toBe(0);
    expect(await value(metrics.sshQueued)).toBe(0);
    await c.close();
    expect(await value(metrics.sshConnected)).toBe(0);
    expect(c.connected).toBe(false);
    expect((await rejection(c.exec("after-close"))).kind).toBe("unavailable");
  });

  it("never logs the private key or its passphrase", async () => {
    const locked = generateKeys("ed25519", "pass-phrase-xyz");
    const s = await server({ clientPublicKeys: [locked.public] });
    const cap = captureLog();
    const c = connect(s, { privateKey: locked.private, passphrase: "pass-phrase-xyz" }, cap.log);
    await c.exec("x");
    s.dropAll();
    await s.waitForConnections(2);
    await c.exec("y");
    expect(cap.entries.length).toBeGreaterThan(0);
    expect(cap.text()).not.toMatch(/pass-phrase-xyz|PRIVATE KEY/);
  });
});
