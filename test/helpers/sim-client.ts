// An RdsClient logged in to an embedded simulator with its own key and pinned host key: what every test that
// talks to the simulator directly needs (the options override the command timeout and the like).
import { silentLogger } from "../../src/observability/logger.ts";
import { createRdsClient } from "../../src/rds/client.ts";
import type { RdsClient, RdsConnectionConfig } from "../../src/rds/types.ts";
import type { EmbeddedRds } from "../../src/sim/embedded.ts";

export function simClient(rds: EmbeddedRds, options: Partial<RdsConnectionConfig> = {}): RdsClient {
  return createRdsClient(
    {
      host: rds.sim.host,
      port: rds.sim.port,
      user: rds.user,
      privateKey: rds.privateKey,
      hostKey: rds.sim.hostKeyFingerprint,
      ...options,
    },
    silentLogger,
  );
}
