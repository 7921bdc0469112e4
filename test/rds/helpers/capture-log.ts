// A real pino logger whose JSON lines are kept in memory, so tests can assert on security events.
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../../src/observability/logger.ts";

export interface CapturedLog {
  log: Logger;
  entries: Array<Record<string, unknown>>;
  /** Everything written, as text (to prove secrets never appear). */
  text(): string;
}

export function captureLog(): CapturedLog {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(
        ...String(chunk)
          .split("\n")
          .filter((l) => l !== ""),
      );
      done();
    },
  });
  const log = createLogger({ level: "debug", destination });
  return {
    log,
    get entries() {
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    text: () => lines.join("\n"),
  };
}
