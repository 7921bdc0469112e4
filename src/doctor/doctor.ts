// `rds-csi doctor`: which checks run for which side, wired from the driver's own configuration.
import { readFile } from "node:fs/promises";
import type { Config } from "../config/schema.ts";
import { deriveHostNqn } from "../node/nvme/host-nqn.ts";
import { LoopTransport } from "../node/nvme/loop.ts";
import { silentLogger } from "../observability/logger.ts";
import { createRdsClient } from "../rds/client.ts";
import type { RdsClient } from "../rds/types.ts";
import { rdsChecks } from "./controller-rds.ts";
import { sshChecks } from "./controller-ssh.ts";
import { defaultHostEnv, type HostEnv } from "./host.ts";
import { nvmeConnectionsCheck } from "./node-connections.ts";
import { hostNqnCheck } from "./node-identity.ts";
import { fabricsDeviceCheck, kernelModulesCheck, kernelVersionCheck } from "./node-kernel.ts";
import { DEFAULT_KUBELET_DIR, kubeletPropagationCheck } from "./node-kubelet.ts";
import { loopDeviceCheck } from "./node-loop.ts";
import { nvmeCliCheck, toolChecks } from "./node-tools.ts";
import { runChecks } from "./runner.ts";
import { type Check, type CheckReport, fail, ok, skip } from "./types.ts";

export interface DoctorScope {
  node: boolean;
  controller: boolean;
}

/**
 * Without --node/--controller: controller checks when the RDS is configured, node checks when a node id
 * is given or the RDS is not (a node plugin has --node-id; a controller has --rds-address and no node id).
 */
export function defaultScope(config: Config): DoctorScope {
  const controller = Boolean(config.rdsAddress);
  return { controller, node: Boolean(config.nodeId) || !controller };
}

export interface NodeCheckOptions {
  env?: Partial<HostEnv>;
  kubeletDir?: string;
}

export function nodeChecks(config: Config, opts: NodeCheckOptions = {}): Check[] {
  const env = defaultHostEnv(opts.env);
  const kubeletDir = opts.kubeletDir ?? DEFAULT_KUBELET_DIR;
  const hostNqn =
    config.hostNqn ?? (config.nodeId ? deriveHostNqn(config.nodeId, config.driverName) : undefined);
  const nvme: Check[] = [kernelModulesCheck(env), fabricsDeviceCheck(env), nvmeCliCheck(env)];
  const transport: Check[] =
    config.transport === "loop"
      ? [
          ...nvme.map((c) => ({ ...c, run: async () => skip("--transport=loop: NVMe/TCP is not used") })),
          loopTransportCheck(config, env),
        ]
      : nvme;
  return [
    kernelVersionCheck(env),
    ...transport,
    hostNqnCheck(env, { nodeId: config.nodeId, driverName: config.driverName, hostNqn: config.hostNqn }),
    nvmeConnectionsCheck(env, {
      managedPrefix: `${config.nqnPrefix}:`,
      ...(hostNqn ? { hostNqn } : {}),
    }),
    loopDeviceCheck(env),
    ...toolChecks(env),
    kubeletPropagationCheck(env, kubeletDir),
  ];
}

/** The loop transport's own start-up check (tests, CI and demos run the node on the simulator's files). */
function loopTransportCheck(config: Config, env: HostEnv): Check {
  return {
    id: "node.transport.loop",
    title: "Loop transport start-up check (what the node plugin runs at start)",
    async run() {
      if (!config.loopRoot)
        return fail(
          "--transport=loop needs --loop-root",
          "give --loop-root (the simulator's data directory)",
        );
      const t = new LoopTransport({
        loopRoot: config.loopRoot,
        sysfsRoot: env.sysfsRoot,
        devRoot: env.devRoot,
        log: silentLogger,
      });
      try {
        await t.check();
        return ok(`loop root ${config.loopRoot} usable`);
      } catch (e) {
        return fail((e as Error).message);
      }
    },
  };
}

export interface ControllerChecks {
  checks: Check[];
  close(): Promise<void>;
}

const MAX_DOCTOR_COMMAND_MS = 15_000;

export function controllerChecks(config: Config): ControllerChecks {
  const missing = [
    !config.rdsAddress && "--rds-address",
    !config.rdsKeyFile && "--rds-key-file",
    !config.rdsHostKey && !config.rdsInsecureSkipHostKeyCheck && "--rds-host-key",
  ].filter(Boolean);
  if (missing.length)
    return {
      checks: [
        {
          id: "controller.config",
          title: "Controller configuration",
          run: async () =>
            fail(
              `missing ${missing.join(", ")}`,
              "give the same flags (or RDS_CSI_* variables, or --config file) as `rds-csi controller`",
            ),
        },
      ],
      close: async () => {},
    };
  const timeoutMs = Math.min(config.rdsCommandTimeoutMs, MAX_DOCTOR_COMMAND_MS);
  const ssh = sshChecks({
    host: config.rdsAddress!,
    port: config.rdsPort,
    user: config.rdsUser,
    keyFile: config.rdsKeyFile!,
    ...(config.rdsHostKey ? { hostKey: config.rdsHostKey } : {}),
    insecureSkipHostKeyCheck: config.rdsInsecureSkipHostKeyCheck,
    timeoutMs,
  });
  let client: RdsClient | undefined;
  const rds = rdsChecks({
    volumePath: config.volumePath,
    async client() {
      const p = await ssh.probe();
      if (!p.tcp.ok || !p.auth?.ok) return "no SSH login to the RDS";
      client = createRdsClient(
        {
          host: config.rdsAddress!,
          port: config.rdsPort,
          user: config.rdsUser,
          privateKey: await readFile(config.rdsKeyFile!),
          ...(config.rdsHostKey ? { hostKey: config.rdsHostKey } : {}),
          insecureSkipHostKeyCheck: config.rdsInsecureSkipHostKeyCheck,
          maxChannels: 2,
          commandTimeoutMs: timeoutMs,
          connectTimeoutMs: timeoutMs,
        },
        silentLogger,
      );
      return client;
    },
  });
  return {
    checks: [...ssh.checks, ...rds],
    close: async () => {
      await client?.close();
    },
  };
}

export interface DoctorOptions extends NodeCheckOptions {
  config: Config;
  scope?: Partial<DoctorScope>;
  checkTimeoutMs?: number;
}

export async function runDoctor(opts: DoctorOptions): Promise<CheckReport[]> {
  const scope = { ...defaultScope(opts.config), ...opts.scope };
  const reports: CheckReport[] = [];
  if (scope.controller) {
    const c = controllerChecks(opts.config);
    try {
      reports.push(...(await runChecks(c.checks, opts.checkTimeoutMs)));
    } finally {
      await c.close();
    }
  }
  if (scope.node) reports.push(...(await runChecks(nodeChecks(opts.config, opts), opts.checkTimeoutMs)));
  return reports;
}
