// startSimulator: the RouterOS 7 / ROSE storage appliance the driver talks to when there is no RDS.
// Wires the SSH server, the CLI interpreter, the disk/file store and fault injection together, and keeps
// the command log and connection statistics tests assert on.
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { sleep } from "../util/sleep.ts";
import type { SimServices } from "./commands.ts";
import { FaultInjector } from "./faults.ts";
import { loadOrCreateHostKey } from "./host-key.ts";
import { Interpreter, type LineResult } from "./interpreter.ts";
import { exportRefusal, NvmetExporter, syncExportsAfter } from "./nvmet-export.ts";
import { CRLF } from "./render.ts";
import { allocateSlowly } from "./slow-allocation.ts";
import { type ExecReply, type ExecRequest, SshServer } from "./ssh-server.ts";
import { SIM_DIR, SimStore } from "./store.ts";
import type { SimCommandLogEntry, SimPoolSpec, Simulator, SimulatorOptions } from "./types.ts";

export const DEFAULT_POOL: SimPoolSpec = { name: "storage-pool", sizeBytes: 100 * 2 ** 30, fs: "xfs" };
export const DEFAULT_VERSION = "7.24.1";
export const DEFAULT_WRAP_WIDTH = 80;
/** The command log keeps the most recent entries only, so long benchmarks do not grow without bound. */
export const COMMAND_LOG_LIMIT = 10_000;

/** Runs async tasks one at a time: every command line sees a consistent store, like RouterOS's config. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true });
  await mkdir(join(dataDir, SIM_DIR), { recursive: true, mode: 0o700 });
  const hostKey = await loadOrCreateHostKey(opts.hostKeyPath ?? join(dataDir, SIM_DIR, "host_key"));
  const store = await SimStore.open(dataDir, opts.pools ?? [DEFAULT_POOL]);
  const faults = new FaultInjector();
  if (opts.latencyProfile) faults.latencyProfile(opts.latencyProfile);
  const services: SimServices = {
    store,
    version: opts.version ?? DEFAULT_VERSION,
    packages: opts.packages ?? ["routeros", "rose-storage"],
    boardName: "RDS2216",
    diskFull: () => faults.isDiskFull(),
    hostKey: hostKey.privateKey,
  };
  const interpreter = new Interpreter(services);
  // Real NVMe/TCP exports through the kernel's nvmet, when asked for (nvmet-export.ts); off by default.
  const exporter = await NvmetExporter.open({
    mode: opts.nvmet ?? "off",
    address: opts.nvmetAddress,
    log: opts.nvmetLog,
  });
  const localPath = (name: string) => store.localPath(name);
  if (exporter) await exporter.sync(store.disks, localPath); // disks a previous run left exported
  const queue = new SerialQueue();
  const commandLog: SimCommandLogEntry[] = [];
  let width = opts.wrapWidth ?? DEFAULT_WRAP_WIDTH;
  let closed = false;

  const errorStream = opts.errorStream ?? "stdout";
  const errorCode = opts.errorExitCode ?? (errorStream === "stderr" ? 1 : 0);
  const reply = (r: LineResult): ExecReply => {
    if (r.error === undefined) return { stdout: r.output, stderr: "", code: 0 };
    const line = r.error + CRLF;
    return errorStream === "stderr"
      ? { stdout: r.output, stderr: line, code: errorCode }
      : { stdout: r.output + line, stderr: "", code: errorCode };
  };

  const onExec = async (req: ExecRequest): Promise<ExecReply | undefined> => {
    const entry: SimCommandLogEntry = {
      at: Date.now(),
      user: req.user,
      command: req.command,
      output: "",
      commands: [],
      latencyMs: { exec: 0, commands: [] },
      span: { start: performance.now() },
    };
    commandLog.push(entry);
    if (commandLog.length > COMMAND_LOG_LIMIT) commandLog.splice(0, commandLog.length - COMMAND_LOG_LIMIT);

    const plan = faults.plan(req.command);
    if (plan.dropBefore) {
      req.drop();
      return undefined;
    }
    if (plan.hang) {
      await faults.waitForRelease(req.signal);
      if (req.signal.aborted) return undefined;
    }
    // Latency models the appliance working: the command still runs if the client gives up meanwhile.
    entry.latencyMs.exec = plan.execDelayMs;
    if (plan.execDelayMs > 0) await sleep(plan.execDelayMs);
    if (plan.allocationMs > 0)
      await allocateSlowly(store, (fn) => queue.run(fn), req.command, plan.allocationMs);
    if (closed) return undefined;
    // The commands' costs run from here: the work the simulator does for the line (waiting for the store,
    // parsing, files) is part of them, not added on top (a command modelled at 10 ms takes 10 ms).
    const workStarted = performance.now();
    const onCommand = (text: string): void => {
      entry.commands.push(text);
      entry.latencyMs.commands.push(faults.commandDelay(text));
    };
    let result: LineResult;
    if (plan.failMessage !== undefined) {
      result = { output: "", error: plan.failMessage };
    } else {
      try {
        result = await queue.run(async () => {
          const afterCommand = exporter
            ? (text: string) => exportRefusal(exporter, store.disks, localPath, text)
            : undefined;
          const r = await interpreter.run(req.command, { width, onCommand, afterCommand });
          return exporter ? syncExportsAfter(exporter, store.disks, localPath, r) : r;
        });
      } catch (err) {
        result = { output: "", error: `failure: simulator error: ${(err as Error).message}` };
      }
    }
    entry.output = result.output + (result.error !== undefined ? result.error + CRLF : "");
    // Each command's work, paid outside the serial queue: concurrent execs overlap their waits, as
    // concurrent sessions do on the appliance, while the store still changes one line at a time. What the
    // line already spent (queued behind other lines, run) counts towards it.
    const commandsMs = entry.latencyMs.commands.reduce((a, b) => a + b, 0);
    const leftMs = commandsMs - (performance.now() - workStarted);
    if (leftMs > 0) await sleep(leftMs);
    if (closed) return undefined;
    if (plan.dropAfter) {
      req.drop();
      return undefined;
    }
    entry.span.end = performance.now();
    return plan.noExitStatus ? { ...reply(result), code: null } : reply(result);
  };

  const ssh = await SshServer.listen({
    host: opts.host ?? "127.0.0.1",
    port: opts.port ?? 0,
    hostKey: hostKey.privateKey,
    authorizedKeys: opts.authorizedKeys,
    onExec,
    onLogin: (drop) => faults.onLogin(drop),
  });

  return {
    host: opts.host ?? "127.0.0.1",
    port: ssh.port,
    hostPublicKey: hostKey.publicKeyLine,
    hostKeyFingerprint: hostKey.fingerprint,
    commandLog,
    faults,
    stats: ssh.stats,
    localPath: (fileName) => {
      const name = store.normalizeName(fileName);
      if (!name) throw new Error(`invalid RouterOS file name: ${fileName}`);
      return store.localPath(name);
    },
    ...(exporter ? { nvmet: exporter } : {}),
    setWrapWidth: (w) => {
      width = w;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      faults.clear();
      await ssh.close();
      await queue.run(async () => undefined);
      await exporter?.close();
    },
  };
}
