// Structured JSON logs (pino). Secrets never reach the log: CSI `secrets` maps, private keys and
// passwords are redacted by path, and request bodies are passed through redactRequest() first.
import pino, { type Logger } from "pino";

export type { Logger };

export const REDACT_PATHS = [
  "secrets",
  "*.secrets",
  "req.secrets",
  "request.secrets",
  "privateKey",
  "*.privateKey",
  "password",
  "*.password",
  "passphrase",
  "*.passphrase",
];

export function createLogger(
  opts: { level?: string; base?: Record<string, unknown>; destination?: pino.DestinationStream } = {},
): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { service: "rds-csi", ...opts.base },
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination,
  );
}

/** A logger that drops everything: for tests and library use without a configured logger. */
export const silentLogger: Logger = pino({ level: "silent" });

const SECRET_KEY = /secret|password|passphrase|private.?key|token/i;

/** Deep copy of a request with every secret-looking field replaced, for logging. */
export function redactRequest(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redactRequest(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k) ? (v ? "[REDACTED]" : v) : redactRequest(v, depth + 1);
  }
  return out;
}
