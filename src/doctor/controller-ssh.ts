// Can the controller reach and log in to the RDS? Three questions with three different fixes, answered
// by one probe: TCP (address, firewall, /ip service ssh), the host key (pin or impostor), and public-key
// authentication (the user's key and group). The probe uses its own ssh2 connection with exactly the
// settings the driver uses (login name, auth method, host key pinning), so it sees what the driver sees.
import { readFile } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import ssh2 from "ssh2";
import { fingerprintOf, type HostKeyPin, hostKeyMatches, parseHostKeyPin } from "../rds/host-key.ts";
import { loginName } from "../rds/ssh-connection.ts";
import { type Check, fail, ok, skip, warn } from "./types.ts";

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  keyFile: string;
  /** Pinned key or fingerprint; undefined only with insecureSkipHostKeyCheck. */
  hostKey?: string;
  insecureSkipHostKeyCheck: boolean;
  timeoutMs: number;
}

export interface SshProbe {
  tcp: { ok: true; ms: number } | { ok: false; error: string };
  /** Fingerprint of the key the server presented, when the handshake got that far. */
  presented?: string;
  hostKey: "match" | "mismatch" | "unpinned" | "unknown";
  /** Error of the pinned key itself (unparsable), if any. */
  pinError?: string;
  auth:
    | { ok: true }
    | { ok: false; error: string; stage: "key-file" | "handshake" | "authentication" }
    | undefined;
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<SshProbe["tcp"]> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const done = (r: SshProbe["tcp"]) => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, error: `no answer within ${timeoutMs} ms` }));
    socket.once("connect", () => done({ ok: true, ms: Math.round(performance.now() - started) }));
    socket.once("error", (e) => done({ ok: false, error: e.message }));
  });
}

export async function probeSsh(t: SshTarget): Promise<SshProbe> {
  const tcp = await tcpProbe(t.host, t.port, t.timeoutMs);
  if (!tcp.ok) return { tcp, hostKey: "unknown", auth: undefined };
  let pin: HostKeyPin | undefined;
  let pinError: string | undefined;
  if (t.hostKey) {
    try {
      pin = parseHostKeyPin(t.hostKey);
    } catch (e) {
      pinError = (e as Error).message;
    }
  }
  let privateKey = Buffer.alloc(0);
  let keyFileError: string | undefined;
  try {
    privateKey = await readFile(t.keyFile);
  } catch (e) {
    // Still connect: the host key can be checked without a usable client key.
    keyFileError = `cannot read --rds-key-file ${t.keyFile}: ${(e as Error).message}`;
  }
  return await handshake(t, tcp, pin, pinError, privateKey, keyFileError);
}

function handshake(
  t: SshTarget,
  tcp: SshProbe["tcp"],
  pin: HostKeyPin | undefined,
  pinError: string | undefined,
  privateKey: Buffer,
  keyFileError?: string,
): Promise<SshProbe> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let presented: string | undefined;
    let hostKey: SshProbe["hostKey"] = "unknown";
    let settled = false;
    const finish = (auth: SshProbe["auth"]) => {
      if (settled) return;
      settled = true;
      client.end();
      resolve({ tcp, hostKey, ...(presented ? { presented } : {}), ...(pinError ? { pinError } : {}), auth });
    };
    client.on("ready", () =>
      finish(keyFileError ? { ok: false, stage: "key-file", error: keyFileError } : { ok: true }),
    );
    client.on("error", (err: Error & { level?: string }) => {
      if (keyFileError) return finish({ ok: false, stage: "key-file", error: keyFileError });
      const stage = err.level === "client-authentication" ? "authentication" : "handshake";
      finish({ ok: false, stage, error: err.message });
    });
    client.on("close", () =>
      finish({ ok: false, stage: "handshake", error: "connection closed during the handshake" }),
    );
    try {
      client.connect({
        host: t.host,
        port: t.port,
        username: loginName(t.user),
        // Without a readable key, offer none: the probe still learns the host key, then stops.
        ...(keyFileError ? { authHandler: ["none"] } : { privateKey, authHandler: ["publickey"] }),
        readyTimeout: t.timeoutMs,
        hostVerifier: (key: Buffer) => {
          presented = fingerprintOf(key);
          if (!pin) {
            hostKey = "unpinned";
            return t.insecureSkipHostKeyCheck;
          }
          hostKey = hostKeyMatches(pin, key) ? "match" : "mismatch";
          return hostKey === "match";
        },
      });
    } catch (e) {
      finish({
        ok: false,
        stage: keyFileError ? "key-file" : "handshake",
        error: keyFileError ?? (e as Error).message,
      });
    }
  });
}

const AUTH_FIX = (user: string) =>
  `import the driver's public key for the user on the RDS (\`/user/ssh-keys/import public-key-file=rds-csi.pub user=${user}\`); ` +
  "the user needs a group with policy ssh,read,write,test; key types: ed25519 or RSA";

/** The three SSH checks, sharing one probe. */
export function sshChecks(t: SshTarget): { checks: Check[]; probe: () => Promise<SshProbe> } {
  let pending: Promise<SshProbe> | undefined;
  const probe = () => {
    pending ??= probeSsh(t);
    return pending;
  };
  const where = `${t.host}:${t.port}`;
  const checks: Check[] = [
    {
      id: "rds.tcp",
      title: `TCP connection to the RDS SSH service (${where})`,
      async run() {
        const p = await probe();
        if (p.tcp.ok) return ok(`connected in ${p.tcp.ms} ms`);
        return fail(
          `cannot connect to ${where}: ${p.tcp.error}`,
          "check --rds-address/--rds-port, that the SSH service is enabled on the RDS (`/ip service print`: ssh, its port and available-from), and firewalls between the controller and the RDS",
        );
      },
    },
    {
      id: "rds.host-key",
      title: "RDS host key matches the pinned key",
      async run() {
        const p = await probe();
        if (!p.tcp.ok) return skip("no TCP connection");
        if (p.pinError)
          return fail(
            `--rds-host-key is not usable: ${p.pinError}`,
            "give the OpenSSH public key line or its SHA256: fingerprint (`/ip/ssh/export-host-key` on the RDS, or `ssh-keyscan`)",
          );
        if (!p.presented)
          return fail(
            `SSH handshake failed before the server showed its host key: ${p.auth && !p.auth.ok ? p.auth.error : "unknown error"}`,
            "check that the port is the RDS's SSH service",
          );
        const pinned = t.hostKey ? parseHostKeyPin(t.hostKey).fingerprint : undefined;
        if (p.hostKey === "match") return ok(`the RDS presented ${p.presented}, which matches the pin`);
        if (p.hostKey === "unpinned")
          return warn(
            `host key pinning is disabled (--rds-insecure-skip-host-key-check); the RDS presented ${p.presented}`,
            `verify the fingerprint on the RDS console, then pin it: --rds-host-key ${p.presented}`,
          );
        return fail(
          `the RDS presented ${p.presented} but ${pinned} is pinned: the driver refuses to connect`,
          "if the RDS was reinstalled or its host key regenerated, read the new key on the RDS console (`/ip/ssh/export-host-key`) and update --rds-host-key; " +
            "if nothing changed on the RDS, something between the controller and the RDS is impersonating it: do not unpin",
        );
      },
    },
    {
      id: "rds.auth",
      title: `SSH public-key login as ${t.user}`,
      async run() {
        const p = await probe();
        if (!p.tcp.ok) return skip("no TCP connection");
        if (p.hostKey === "mismatch" || p.pinError)
          return skip("the host key was refused, so no login was attempted");
        const a = p.auth;
        if (!a) return skip("no SSH handshake");
        if (a.ok) return ok(`logged in as ${loginName(t.user)}`);
        if (a.stage === "key-file")
          return fail(
            a.error,
            "mount the private key where --rds-key-file points (ed25519 or RSA, OpenSSH or PEM)",
          );
        if (a.stage === "authentication")
          return fail(`the RDS refused the key for user ${t.user}: ${a.error}`, AUTH_FIX(t.user));
        return fail(
          `SSH handshake failed: ${a.error}`,
          "check that the port is the RDS's SSH service and that `/ip ssh` allows the key type",
        );
      },
    },
  ];
  return { checks, probe };
}
