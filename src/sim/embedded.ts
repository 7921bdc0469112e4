// An RDS simulator with a fresh client key pair, ready for the driver to use: what the demo, the
// integration tests, csi-sanity and the benchmarks run against when there is no appliance.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateEd25519KeyPair } from "./host-key.ts";
import { startSimulator } from "./simulator.ts";
import type { Simulator, SimulatorOptions } from "./types.ts";

export interface EmbeddedRds {
  sim: Simulator;
  dataDir: string;
  /** Private key file the driver logs in with (OpenSSH format, ed25519). */
  keyFile: string;
  privateKey: string;
  user: string;
  /** Flags that point `rds-csi controller|all` at this simulator, with the host key pinned. */
  driverFlags(): string[];
  close(): Promise<void>;
}

export async function startEmbeddedRds(opts: Partial<SimulatorOptions> = {}): Promise<EmbeddedRds> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "rds-sim-"));
  const keyDir = join(dataDir, ".client");
  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  const keys = generateEd25519KeyPair("rds-csi");
  const keyFile = join(keyDir, "id_ed25519");
  writeFileSync(keyFile, keys.private, { mode: 0o600 });
  writeFileSync(`${keyFile}.pub`, `${keys.public}\n`);
  const sim = await startSimulator({
    ...opts,
    dataDir,
    authorizedKeys: [...(opts.authorizedKeys ?? []), keys.public],
  });
  const user = "rds-csi";
  return {
    sim,
    dataDir,
    keyFile,
    privateKey: keys.private,
    user,
    driverFlags: () => [
      "--rds-address",
      sim.host,
      "--rds-port",
      String(sim.port),
      "--rds-user",
      user,
      "--rds-key-file",
      keyFile,
      "--rds-host-key",
      sim.hostKeyFingerprint,
    ],
    close: () => sim.close(),
  };
}
