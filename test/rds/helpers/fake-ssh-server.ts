// A real ssh2.Server on loopback whose exec behaviour each test scripts: for the cases the simulator does
// not offer exact control over (hold a channel open, count concurrent channels, drop mid-command).
import { timingSafeEqual } from "node:crypto";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import ssh2, { type Connection, type ServerChannel } from "ssh2";
import { fingerprintOf } from "../../../src/rds/host-key.ts";

export type ExecHandler = (command: string, channel: ServerChannel, conn: Connection) => void;

export interface FakeSsh {
  port: number;
  hostPublicKey: string;
  hostFingerprint: string;
  /** Login names as the client sent them (with any `+options`). */
  usernames: string[];
  /** Commands in arrival order. */
  commands: string[];
  openChannels: number;
  maxOpenChannels: number;
  connections: number;
  /** Resolves when the given number of channels are open at once. */
  waitForOpenChannels(n: number): Promise<void>;
  /** Resolves once `cond` holds; re-checked on every connection, exec and channel close. */
  waitFor(cond: () => boolean): Promise<void>;
  /** Resolves when the server has accepted n connections in total. */
  waitForConnections(n: number): Promise<void>;
  dropAll(): void;
  setHandler(handler: ExecHandler): void;
  close(): Promise<void>;
}

export function reply(
  channel: ServerChannel,
  stdout: string,
  opts: { stderr?: string; code?: number } = {},
): void {
  if (stdout) channel.write(stdout);
  if (opts.stderr) channel.stderr.write(opts.stderr);
  channel.exit(opts.code ?? 0);
  channel.end();
}

/** Answers every command with the RouterOS-style success sentinel. */
export const sentinelHandler: ExecHandler = (_cmd, ch) => reply(ch, "__RDS_OK__\r\n");

/**
 * A key pair in OpenSSH format. ssh2 1.17's ed25519 generator drops a leading zero byte of the public key
 * about once in 256 keys (a key ssh2 itself then rejects; see src/sim/host-key.ts): generate until it parses.
 */
export function generateKeys(
  type: "ed25519" | "rsa" = "ed25519",
  passphrase?: string,
): { private: string; public: string } {
  const pass: ssh2.utils.KeyPairOptions = passphrase ? { passphrase, cipher: "aes256-cbc", rounds: 16 } : {};
  for (let attempt = 0; attempt < 20; attempt++) {
    const pair =
      type === "rsa"
        ? ssh2.utils.generateKeyPairSync("rsa", { bits: 2048, ...pass })
        : ssh2.utils.generateKeyPairSync("ed25519", pass);
    if (
      !(ssh2.utils.parseKey(pair.private, passphrase) instanceof Error) &&
      !(ssh2.utils.parseKey(pair.public) instanceof Error)
    )
      return pair;
  }
  throw new Error(`could not generate a valid ${type} key`);
}

export async function startFakeSsh(opts: {
  clientPublicKeys: string[];
  hostKey?: string;
  port?: number;
  handler?: ExecHandler;
}): Promise<FakeSsh> {
  const hostKeys = opts.hostKey ? { private: opts.hostKey, public: "" } : generateKeys();
  const hostParsed = ssh2.utils.parseKey(hostKeys.private);
  if (hostParsed instanceof Error || Array.isArray(hostParsed)) throw new Error("bad host key");
  const hostBlob = hostParsed.getPublicSSH();
  const allowed = opts.clientPublicKeys.map((k) => {
    const parsed = ssh2.utils.parseKey(k);
    if (parsed instanceof Error || Array.isArray(parsed)) throw new Error("bad client key");
    return parsed;
  });
  let handler: ExecHandler = opts.handler ?? sentinelHandler;
  const conns = new Set<Connection>();
  const waiters: Array<() => void> = [];
  const notify = () => {
    for (const w of waiters.splice(0)) w();
  };
  const until = (cond: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => (cond() ? resolve() : waiters.push(check));
      check();
    });

  const server = new ssh2.Server({ hostKeys: [hostKeys.private] }, (conn) => {
    fake.connections++;
    conns.add(conn);
    notify();
    conn.on("error", () => {});
    conn.on("close", () => conns.delete(conn));
    conn.on("authentication", (ctx) => {
      fake.usernames.push(ctx.username);
      if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
      const key = allowed.find((k) => {
        const pub = k.getPublicSSH();
        return ctx.key.data.length === pub.length && timingSafeEqual(ctx.key.data, pub);
      });
      if (!key) return ctx.reject();
      if (ctx.signature && ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true)
        return ctx.reject();
      ctx.accept();
    });
    conn.on("ready", () => {
      conn.on("session", (accept) => {
        const session = accept();
        session.on("exec", (acceptExec, _reject, info) => {
          const channel = acceptExec();
          channel.resume(); // ssh2 emits a server channel's "close" only after its input has been read
          fake.commands.push(info.command);
          fake.openChannels++;
          fake.maxOpenChannels = Math.max(fake.maxOpenChannels, fake.openChannels);
          channel.on("close", () => {
            fake.openChannels--;
            notify();
          });
          handler(info.command, channel, conn);
          notify();
        });
      });
    });
  });
  server.listen(opts.port ?? 0, "127.0.0.1");
  await once(server, "listening");
  const fake: FakeSsh = {
    port: (server.address() as AddressInfo).port,
    hostPublicKey: `${hostParsed.type} ${hostBlob.toString("base64")}`,
    hostFingerprint: fingerprintOf(hostBlob),
    usernames: [],
    commands: [],
    openChannels: 0,
    maxOpenChannels: 0,
    connections: 0,
    waitForOpenChannels: (n) => until(() => fake.openChannels >= n),
    waitFor: until,
    waitForConnections: (n) => until(() => fake.connections >= n),
    dropAll: () => {
      for (const c of conns) c.end();
    },
    setHandler: (h) => {
      handler = h;
    },
    close: async () => {
      for (const c of conns) c.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
