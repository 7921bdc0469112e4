// The SSH side of the simulator (docs/routeros.md §6, §9.1): public-key auth only against the
// authorized keys (any user name; `name+ct511w4098h` style options are stripped to the base name), `exec`
// requests only (shell, pty and subsystems are refused), one command line per exec channel; the reply is
// written, then exit-status, then the channel closes.
import type { Socket } from "node:net";
import ssh2, { type Connection, type ParsedKey, type Server } from "ssh2";

export interface ExecRequest {
  /** Base user name (options after `+` removed). */
  user: string;
  command: string;
  /** Aborts when the channel or the connection closes. */
  signal: AbortSignal;
  /** Kills the TCP connection without a reply (fault injection). */
  drop(): void;
}

export interface ExecReply {
  stdout: string;
  stderr: string;
  /** null: close the channel without sending an exit status (fault injection). */
  code: number | null;
}

/** Returns the reply, or undefined when nothing must be sent (connection dropped, channel gone). */
export type ExecHandler = (req: ExecRequest) => Promise<ExecReply | undefined>;

export interface SshServerOptions {
  host: string;
  port: number;
  hostKey: string;
  /** OpenSSH public key lines. */
  authorizedKeys: readonly string[];
  onExec: ExecHandler;
  /** Called once a client has logged in, with a way to cut its connection (fault injection). */
  onLogin?: (drop: () => void) => void;
  onError?: (err: Error) => void;
}

export interface SshStats {
  connections: number;
  channels: number;
  maxConcurrentChannels: number;
  totalConnections: number;
}

/** `admin+ct511w4098h` → `admin` (RouterOS login options, §6). */
export function baseUserName(login: string): string {
  const plus = login.indexOf("+");
  return plus < 0 ? login : login.slice(0, plus);
}

function parseAuthorizedKey(line: string): ParsedKey {
  const parsed = ssh2.utils.parseKey(line.trim());
  if (parsed instanceof Error) throw new Error(`invalid authorized key: ${parsed.message}`);
  return parsed;
}

/** ssh2 keeps the socket private; dropping a connection abruptly (no SSH disconnect) needs it. */
function socketOf(client: Connection): Socket | undefined {
  return (client as unknown as { _sock?: Socket })._sock;
}

export class SshServer {
  readonly stats: SshStats = { connections: 0, channels: 0, maxConcurrentChannels: 0, totalConnections: 0 };
  private readonly server: Server;
  private readonly clients = new Set<Connection>();
  private readonly keys: ParsedKey[];
  private readonly opts: SshServerOptions;
  private boundPort = 0;

  private constructor(opts: SshServerOptions) {
    this.opts = opts;
    this.keys = opts.authorizedKeys
      .filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
      .map(parseAuthorizedKey);
    this.server = new ssh2.Server({ hostKeys: [opts.hostKey] }, (client) => this.onConnection(client));
  }

  static async listen(opts: SshServerOptions): Promise<SshServer> {
    const s = new SshServer(opts);
    await new Promise<void>((resolve, reject) => {
      s.server.once("error", reject);
      s.server.listen(opts.port, opts.host, () => {
        s.server.off("error", reject);
        s.server.on("error", (err: Error) => opts.onError?.(err));
        resolve();
      });
    });
    const addr = s.server.address();
    s.boundPort = typeof addr === "object" && addr ? addr.port : opts.port;
    return s;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Stops listening and cuts every open connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.clients) socketOf(c)?.destroy();
    await closed;
  }

  private onConnection(client: Connection): void {
    // One small reply per command: without TCP_NODELAY, Nagle plus delayed ACKs add ~40-80 ms to each.
    socketOf(client)?.setNoDelay(true);
    this.clients.add(client);
    this.stats.connections++;
    this.stats.totalConnections++;
    let user = "";
    const aborts = new Set<AbortController>();
    const openSessions = new Set<object>();

    client.on("error", (err) => this.opts.onError?.(err));
    client.on("close", () => {
      this.clients.delete(client);
      this.stats.connections--;
      this.stats.channels -= openSessions.size;
      openSessions.clear();
      for (const a of aborts) a.abort();
    });

    client.on("authentication", (ctx) => {
      if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
      // The key blob carries the key type and data; both must match an authorized key.
      const key = this.keys.find((k) => k.getPublicSSH().equals(ctx.key.data));
      if (!key) return ctx.reject(["publickey"]);
      if (!ctx.signature || !ctx.blob) return ctx.accept(); // the client only asks whether the key is acceptable
      if (!key.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.reject(["publickey"]);
      user = baseUserName(ctx.username);
      ctx.accept();
    });

    client.on("ready", () => {
      this.opts.onLogin?.(() => socketOf(client)?.destroy());
      client.on("session", (accept) => {
        const session = accept();
        openSessions.add(session);
        this.stats.channels++;
        this.stats.maxConcurrentChannels = Math.max(this.stats.maxConcurrentChannels, this.stats.channels);
        session.on("close", () => {
          if (openSessions.delete(session)) this.stats.channels--;
        });
        session.on("pty", (_accept, reject) => reject?.());
        session.on("shell", (_accept, reject) => reject?.());
        session.on("subsystem", (_accept, reject) => reject?.());
        session.on("sftp", (_accept, reject) => reject?.());
        session.once("exec", (acceptExec, _reject, info) => {
          const stream = acceptExec();
          const abort = new AbortController();
          aborts.add(abort);
          stream.on("close", () => abort.abort());
          // Nothing reads stdin, but ssh2 emits `close` only after the readable side ended: drain it.
          stream.resume();
          this.opts
            .onExec({
              user,
              command: info.command,
              signal: abort.signal,
              drop: () => socketOf(client)?.destroy(),
            })
            .then(
              (reply) => {
                aborts.delete(abort);
                if (!reply || abort.signal.aborted) return;
                if (reply.stdout) stream.write(reply.stdout);
                if (reply.stderr) stream.stderr.write(reply.stderr);
                if (reply.code !== null) stream.exit(reply.code);
                stream.end();
              },
              (err: unknown) => {
                aborts.delete(abort);
                this.opts.onError?.(err instanceof Error ? err : new Error(String(err)));
                if (!abort.signal.aborted) {
                  stream.exit(1);
                  stream.end();
                }
              },
            );
        });
      });
    });
  }
}
