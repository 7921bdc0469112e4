// One persistent SSH connection to one RDS, with an exec channel per RouterOS command.
//
// Why one connection: routers commonly rate-limit *new* SSH connections (the documented brute-force
// recipe blacklists after a few), so a connection per command can get the driver locked out. Channels
// are capped (ChannelLimiter, FIFO) because RouterOS session limits are undocumented and low.
//
// Lifecycle: the first exec connects (lazily). When an established connection drops, it reconnects in the
// background with exponential back-off and jitter until it succeeds or close() is called; the back-off
// resets only after a session has stayed up for a while (reconnect-backoff.ts says why). A command that
// arrives while a connection attempt is under way waits for it (within its own timeout); during a back-off
// pause it waits for the next attempt only if that starts before its deadline, and otherwise fails at once
// with RdsError("unavailable"). A command running when the connection drops fails with "unavailable": it
// is never re-sent here, because the caller must re-read state before repeating a mutation.
import { performance } from "node:perf_hooks";
import ssh2, { type Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { EventReason, tagEvent } from "../observability/events.ts";
import type { Logger } from "../observability/logger.ts";
import { metrics } from "../observability/metrics.ts";
import { ChannelLimiter } from "./channel-limiter.ts";
import { SENTINEL } from "./command.ts";
import { fingerprintOf, type HostKeyPin, hostKeyMatches, parseHostKeyPin } from "./host-key.ts";
import { ReconnectBackoff } from "./reconnect-backoff.ts";
import type { ExecResult } from "./result.ts";
import { type RdsConnectionConfig, RdsError } from "./types.ts";

export interface SshConnectionOptions extends RdsConnectionConfig {
  /** Reconnect back-off window after the first failure (delay jittered in its upper half), doubling per
   * failure (a failed dial, or a session that ended before reconnectStableMs) up to reconnectMaxMs. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** A session must stay up this long before the back-off resets. */
  reconnectStableMs?: number;
}

export interface ExecOptions {
  /** Whole-command budget: waiting for a channel, (re)connecting and running. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Metrics label, e.g. `/disk add`; derived from the command when absent. */
  verb?: string;
}

export const DEFAULTS = {
  maxChannels: 4,
  commandTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  keepaliveIntervalMs: 15_000,
  keepaliveCountMax: 3,
  reconnectBaseMs: 250,
  reconnectMaxMs: 30_000,
  reconnectStableMs: 30_000,
} as const;

/** RouterOS login options: `c` no colours, `t` no terminal auto-detection (docs/routeros.md §6). */
export function loginName(user: string): string {
  return user.includes("+") ? user : `${user}+ct`;
}

/** `/disk print detail where ...` → `/disk print`; low-cardinality label for metrics. */
export function verbOf(command: string): string {
  const m = /^\s*(\/[a-z0-9/ -]*?)\s+(add|set|remove|print|get|find|enable|disable)\b/.exec(command);
  if (m) return `${(m[1] as string).trim()} ${m[2]}`;
  return /^\s*:([a-z]+)/.exec(command)?.[0].trim() ?? "other";
}

interface RunningExec {
  fail(error: RdsError): void;
}

const unavailable = (message: string, cause?: unknown) => new RdsError("unavailable", message, { cause });

export class SshConnection {
  readonly #opts: Required<
    Omit<SshConnectionOptions, "passphrase" | "hostKey" | "insecureSkipHostKeyCheck">
  > &
    Pick<SshConnectionOptions, "passphrase">;
  readonly #log: Logger;
  readonly #pin?: HostKeyPin;
  readonly #insecure: boolean;
  readonly #limiter: ChannelLimiter;
  #client?: Client;
  /** The pending connection: the next attempt, including its back-off pause. */
  #connecting?: Promise<Client>;
  #nextAttemptAt = 0;
  #backoff: ReconnectBackoff;
  /** When the current session's handshake completed (performance.now()). */
  #connectedAt = 0;
  #lastError?: Error;
  #backoffTimer?: NodeJS.Timeout;
  #cancelBackoff?: (reason: Error) => void;
  #closed = false;
  readonly #running = new Set<RunningExec>();
  #openChannels = 0;
  /** Whether the per-command debug line is wanted (the level is fixed when the driver starts). */
  readonly #debug: boolean;

  constructor(opts: SshConnectionOptions, log: Logger) {
    this.#log = log;
    this.#debug = log.isLevelEnabled("debug");
    if (opts.hostKey) this.#pin = parseHostKeyPin(opts.hostKey);
    this.#insecure = opts.insecureSkipHostKeyCheck === true;
    if (!this.#pin && !this.#insecure) {
      throw new RdsError(
        "invalid",
        "an RDS host key (hostKey) is required unless insecureSkipHostKeyCheck is set explicitly",
      );
    }
    checkPrivateKey(opts.privateKey, opts.passphrase);
    this.#opts = {
      host: opts.host,
      port: opts.port,
      user: opts.user,
      privateKey: opts.privateKey,
      passphrase: opts.passphrase,
      maxChannels: opts.maxChannels ?? DEFAULTS.maxChannels,
      commandTimeoutMs: opts.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
      connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs,
      keepaliveCountMax: opts.keepaliveCountMax ?? DEFAULTS.keepaliveCountMax,
      reconnectBaseMs: opts.reconnectBaseMs ?? DEFAULTS.reconnectBaseMs,
      reconnectMaxMs: opts.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs,
      reconnectStableMs: opts.reconnectStableMs ?? DEFAULTS.reconnectStableMs,
    };
    this.#backoff = new ReconnectBackoff({
      baseMs: this.#opts.reconnectBaseMs,
      capMs: this.#opts.reconnectMaxMs,
      stableMs: this.#opts.reconnectStableMs,
      // A session that died young is never redialled sooner than four base windows (1 s by default).
      unstableFloorMs: Math.min(4 * this.#opts.reconnectBaseMs, this.#opts.reconnectMaxMs),
    });
    // The gauge is set when the queue length changes, not on every acquire and release (the hot path).
    let queued = 0;
    this.#limiter = new ChannelLimiter(this.#opts.maxChannels, () => {
      const now = this.#limiter?.queued ?? 0;
      if (now === queued) return;
      queued = now;
      metrics.sshQueued.set(now);
    });
  }

  get connected(): boolean {
    return this.#client !== undefined;
  }

  /** Channel accounting, for tests and diagnostics. */
  get stats(): { openChannels: number; slotsInUse: number; queued: number } {
    return {
      openChannels: this.#openChannels,
      slotsInUse: this.#limiter.inUse,
      queued: this.#limiter.queued,
    };
  }

  /** Channels no command holds or waits for right now. */
  get freeChannels(): number {
    return this.#limiter.queued > 0 ? 0 : this.#limiter.max - this.#limiter.inUse;
  }

  /** Runs one command on its own exec channel. Rejects with RdsError("timeout" | "unavailable"). */
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? this.#opts.commandTimeoutMs;
    const verb = opts.verb ?? verbOf(command);
    const started = performance.now();
    const deadline = Date.now() + timeoutMs;
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new RdsError("timeout", `command timed out after ${timeoutMs} ms`, { command })),
      timeoutMs,
    );
    const onCallerAbort = () =>
      abort.abort(
        new RdsError("timeout", "command aborted by the caller", { command, cause: opts.signal?.reason }),
      );
    if (opts.signal?.aborted) onCallerAbort();
    else opts.signal?.addEventListener("abort", onCallerAbort, { once: true });
    let result = "ok";
    try {
      const release = await this.#limiter.acquire(abort.signal);
      try {
        for (;;) {
          // Connected (the usual case): no extra promise hop.
          const client = this.#client ?? (await this.#connection(deadline, abort.signal));
          try {
            return await this.#run(client, command, abort.signal);
          } catch (e) {
            // ssh2 already knows the socket is gone but has not emitted "close" yet: the command was never
            // sent, so it is safe to forget this client and go through (re)connecting once more.
            if (!(e instanceof NotSent)) throw e;
            this.#dropped(client);
          }
        }
      } finally {
        release();
      }
    } catch (e) {
      const error = e instanceof RdsError ? e : unavailable(`SSH: ${(e as Error).message}`, e);
      result = error.kind;
      throw error;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onCallerAbort);
      const seconds = (performance.now() - started) / 1000;
      metrics.sshCommandDuration.observe({ verb, result }, seconds);
      if (this.#debug)
        this.#log.debug({ verb, command, result, ms: Math.round(seconds * 1000) }, "RouterOS command");
    }
  }

  /** Ends the connection and stops reconnecting; running and waiting commands fail with "unavailable". */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#backoffTimer);
    this.#cancelBackoff?.(unavailable("SSH connection closed"));
    for (const r of [...this.#running]) r.fail(unavailable("SSH connection closed"));
    const client = this.#client;
    this.#client = undefined;
    metrics.sshConnected.set(0);
    if (client) {
      await new Promise<void>((resolve) => {
        const guard = setTimeout(resolve, 2000);
        client.once("close", () => {
          clearTimeout(guard);
          resolve();
        });
        client.end();
      });
    }
  }

  /** A ready client, waiting for the pending attempt when it can finish before the deadline. */
  async #connection(deadline: number, signal: AbortSignal): Promise<Client> {
    if (this.#closed) throw unavailable("SSH connection closed");
    if (this.#client) return this.#client;
    if (!this.#connecting) this.#schedule(0);
    if (this.#nextAttemptAt >= deadline) {
      const inMs = this.#nextAttemptAt - Date.now();
      throw unavailable(
        `RDS unreachable, next SSH attempt in ${inMs} ms: ${this.#lastError?.message ?? "not connected"}`,
        this.#lastError,
      );
    }
    const pending = this.#connecting as Promise<Client>;
    return await new Promise<Client>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      pending.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  /** Starts the next connection attempt after `delayMs`; keeps retrying with back-off until connected or closed. */
  #schedule(delayMs: number): void {
    this.#nextAttemptAt = Date.now() + delayMs;
    const pause = new Promise<void>((resolve, reject) => {
      this.#cancelBackoff = reject;
      this.#backoffTimer = setTimeout(resolve, delayMs);
      this.#backoffTimer.unref(); // an idle driver process must be able to exit
    });
    const attempt = pause.then(() => this.#connectOnce());
    this.#connecting = attempt;
    attempt.then(
      () => {
        // The back-off is not reset here: a session that the appliance drops right after login must
        // not earn a fast redial (afterSessionEnded decides when the session ends).
        this.#connecting = undefined;
        metrics.sshReconnects.inc({ result: "success" });
      },
      (error: Error) => {
        this.#connecting = undefined;
        if (this.#closed) return;
        this.#lastError = error;
        metrics.sshReconnects.inc({ result: "failure" });
        const delay = this.#backoff.afterFailedAttempt();
        this.#log.warn({ err: error.message, retryInMs: delay }, "SSH connection to the RDS failed");
        this.#schedule(delay);
      },
    );
  }

  #connectOnce(): Promise<Client> {
    return new Promise<Client>((resolve, reject) => {
      const client = new ssh2.Client();
      let settled = false;
      let refusedKey: string | undefined;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(error);
      };
      client.on("ready", () => {
        if (settled) return;
        settled = true;
        if (this.#closed) {
          client.end();
          reject(unavailable("SSH connection closed"));
          return;
        }
        this.#client = client;
        this.#connectedAt = performance.now();
        metrics.sshConnected.set(1);
        this.#log.info({ host: this.#opts.host, port: this.#opts.port }, "SSH connected to the RDS");
        resolve(client);
      });
      client.on("error", (err) => {
        if (refusedKey)
          fail(
            tagEvent(
              unavailable(`RDS host key ${refusedKey} does not match the pinned key`, err),
              EventReason.hostKeyMismatch,
            ),
          );
        else if (!settled)
          fail(
            unavailable(`SSH connect to ${this.#opts.host}:${this.#opts.port} failed: ${err.message}`, err),
          );
        else this.#log.warn({ err: err.message }, "SSH connection error");
      });
      client.on("close", () => {
        if (!settled) fail(unavailable("SSH connection closed during the handshake"));
        else this.#dropped(client);
      });
      const config: ConnectConfig = {
        host: this.#opts.host,
        port: this.#opts.port,
        username: loginName(this.#opts.user),
        privateKey: this.#opts.privateKey,
        passphrase: this.#opts.passphrase,
        authHandler: ["publickey"],
        readyTimeout: this.#opts.connectTimeoutMs,
        keepaliveInterval: this.#opts.keepaliveIntervalMs,
        keepaliveCountMax: this.#opts.keepaliveCountMax,
        hostVerifier: (key: Buffer) => {
          if (this.#verifyHostKey(key)) return true;
          refusedKey = fingerprintOf(key);
          return false;
        },
      };
      try {
        client.connect(config);
        // One small request and reply per command: without TCP_NODELAY, Nagle's algorithm plus delayed
        // ACKs add 40-80 ms to every command. ssh2's public setNoDelay reaches the socket connect() made.
        client.setNoDelay(true);
      } catch (e) {
        fail(unavailable(`SSH connect failed: ${(e as Error).message}`, e));
      }
    });
  }

  #verifyHostKey(key: Buffer): boolean {
    const actual = fingerprintOf(key);
    if (this.#insecure && !this.#pin) {
      this.#log.warn(
        { security: true, event: "host-key-unverified", actual, host: this.#opts.host },
        "SSH host key of the RDS is NOT verified (insecureSkipHostKeyCheck): a machine in the middle could impersonate it",
      );
      return true;
    }
    const pin = this.#pin as HostKeyPin;
    if (hostKeyMatches(pin, key)) return true;
    this.#log.error(
      {
        security: true,
        event: "host-key-mismatch",
        expected: pin.fingerprint,
        actual,
        host: this.#opts.host,
      },
      "SSH host key of the RDS does not match the pinned key: refusing to connect",
    );
    metrics.hostKeyMismatch.inc();
    return false;
  }

  #dropped(client: Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    metrics.sshConnected.set(0);
    for (const r of [...this.#running])
      r.fail(unavailable("SSH connection to the RDS dropped while the command ran"));
    if (this.#closed) return;
    const uptimeMs = Math.round(performance.now() - this.#connectedAt);
    if (this.#connecting) return;
    const delay = this.#backoff.afterSessionEnded(uptimeMs);
    this.#log.warn(
      { host: this.#opts.host, uptimeMs, retryInMs: delay },
      "SSH connection to the RDS dropped; reconnecting",
    );
    this.#schedule(delay);
  }

  /** Opens an exec channel, collects stdout/stderr/exit status; closes the channel on abort. */
  #run(client: Client, command: string, signal: AbortSignal): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let code: number | null = null;
      let exited = false;
      let stream: ClientChannel | undefined;
      let done = false;
      const entry: RunningExec = { fail: (error) => finish(error) };
      const onAbort = () => finish(signal.reason);
      const finish = (error?: unknown) => {
        if (done) return;
        done = true;
        this.#running.delete(entry);
        signal.removeEventListener("abort", onAbort);
        if (stream) {
          this.#openChannels--;
          metrics.sshChannelsInUse.set(this.#openChannels);
          if (error) stream.close(); // a timed-out command must not keep its channel (and RouterOS job) alive
        }
        if (error) reject(error);
        else
          resolve({
            stdout: Buffer.concat(stdout).toString("utf8"),
            stderr: Buffer.concat(stderr).toString("utf8"),
            code,
          });
      };
      if (signal.aborted) return reject(signal.reason);
      this.#running.add(entry);
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        client.exec(command, (err, channel) => {
          if (err) return finish(unavailable(`cannot open an SSH exec channel: ${err.message}`, err));
          if (done) {
            channel.close(); // timed out or dropped while the channel was being opened
            return;
          }
          stream = channel;
          this.#openChannels++;
          metrics.sshChannelsInUse.set(this.#openChannels);
          channel.on("data", (d: Buffer) => stdout.push(d));
          channel.stderr.on("data", (d: Buffer) => stderr.push(d));
          channel.on("exit", (c: number | null) => {
            exited = true;
            code = typeof c === "number" ? c : null;
          });
          channel.on("close", () => {
            // Some RouterOS builds close the channel without an exit status. The sentinel, printed only
            // after every command succeeded, is proof enough; without it the outcome is unknown.
            if (exited || endsWithSentinel(stdout)) finish();
            else finish(unavailable("SSH channel closed without an exit status (connection lost?)"));
          });
        });
      } catch (e) {
        // ssh2 throws "Not connected" synchronously, before sending anything, when it already knows the
        // socket is gone (its public contract; no peeking at its private socket).
        finish(
          (e as Error).message === "Not connected"
            ? new NotSent()
            : unavailable(`cannot open an SSH exec channel: ${(e as Error).message}`, e),
        );
      }
    });
  }
}

function endsWithSentinel(chunks: Buffer[]): boolean {
  return Buffer.concat(chunks).toString("utf8").trimEnd().split(/\r?\n/).at(-1)?.trim() === SENTINEL;
}

/** The connection was already dead when the command was about to be sent: nothing reached the RDS. */
class NotSent extends Error {}

/** Fails fast (at construction) on an unreadable key, a wrong passphrase or an unsupported key type. */
function checkPrivateKey(key: string | Buffer, passphrase?: string): void {
  const parsed = ssh2.utils.parseKey(key, passphrase);
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!first || first instanceof Error) {
    // Never include the key or the passphrase in the message.
    throw new RdsError(
      "invalid",
      `cannot read the SSH private key: ${first instanceof Error ? first.message : "no key found"}`,
    );
  }
  if (first.type !== "ssh-ed25519" && first.type !== "ssh-rsa") {
    throw new RdsError("invalid", `unsupported SSH private key type ${first.type}: use ed25519 or RSA`);
  }
}
