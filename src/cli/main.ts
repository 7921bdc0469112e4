// `rds-csi <command>`: one executable for the controller, the node plugin, both, the RouterOS
// simulator, the demo and (later) the doctor.
import { runDriverCli } from "./run-driver.ts";

const USAGE = `usage: rds-csi <command> [flags]

commands:
  controller   CSI controller service (provisions volumes on the RDS over SSH)
  node         CSI node service (attaches, stages and publishes volumes on this node)
  all          controller and node in one process
  sim          RouterOS simulator (an SSH server that behaves like an RDS)
  demo         walk a volume through its whole life on the embedded simulator
  doctor       check a node and/or the controller's access to the RDS, with fixes
  attachments  list or release the volume attachments recorded on the RDS
  version      print the version

Run 'rds-csi <command> --help' for the flags of a command; every flag can also be set as an
environment variable RDS_CSI_<FLAG> (e.g. RDS_CSI_RDS_ADDRESS) or in a JSON file given with --config.
`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "controller":
    case "node":
    case "all":
      if (rest.includes("--help") || rest.includes("-h")) return printDriverHelp(command);
      return runDriverCli(command, rest);
    case "sim": {
      const { runSimCli } = await import("../sim/cli.ts");
      return runSimCli(rest);
    }
    case "demo": {
      const { runDemo } = await import("./demo.ts");
      return runDemo(rest);
    }
    case "doctor": {
      const { runDoctorCli } = await import("../doctor/cli.ts");
      return runDoctorCli(rest);
    }
    case "attachments": {
      const { runAttachmentsCli } = await import("./attachments.ts");
      return runAttachmentsCli(rest);
    }
    case "version": {
      if (rest.includes("--help") || rest.includes("-h")) return printVersionHelp();
      const { DRIVER_VERSION } = await import("../csi/identity.ts");
      process.stdout.write(`rds-csi ${DRIVER_VERSION}\n`);
      return;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`rds-csi: unknown command "${command}"\n\n${USAGE}`);
      process.exit(2);
  }
}

const DRIVER_SUMMARY: Record<string, string> = {
  controller: "Runs the CSI controller service: provisions volumes on the RDS over SSH.",
  node: "Runs the CSI node service: attaches, stages and publishes volumes on this node.",
  all: "Runs the CSI controller and node services in one process.",
};

async function printDriverHelp(mode: string): Promise<void> {
  const { driverFlagTable, formatFlags } = await import("./help.ts");
  process.stdout.write(
    `usage: rds-csi ${mode} [flags]

${DRIVER_SUMMARY[mode]}
Settings come from, lowest precedence first: the defaults below, the --config file, environment
variables and flags. docs/configuration.md has the StorageClass parameters too.

flags:
${formatFlags(driverFlagTable())}`,
  );
}

async function printVersionHelp(): Promise<void> {
  const { formatFlags } = await import("./help.ts");
  process.stdout.write(
    `usage: rds-csi version\n\nPrints the driver's version.\n\nflags:\n${formatFlags({})}`,
  );
}

main(process.argv.slice(2)).catch((err) => {
  // A mistyped flag is the user's error, not ours: one line and a pointer to the help, no stack.
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_")) {
    const command = process.argv[2] ?? "";
    process.stderr.write(`rds-csi ${command}: ${(err as Error).message}; see 'rds-csi ${command} --help'\n`);
    process.exit(2);
  }
  process.stderr.write(`rds-csi: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
