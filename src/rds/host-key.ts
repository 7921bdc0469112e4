// Host key pinning for the RDS: the operator gives either the OpenSSH public key line (made from the PEM file
// `/ip/ssh/export-host-key` writes, docs/install.md, or from ssh-keyscan) or its `SHA256:` fingerprint (as
// printed by `ssh-keygen -lf`).
import { createHash } from "node:crypto";
import { RdsError } from "./types.ts";

export interface HostKeyPin {
  /** `SHA256:<base64, no padding>` of the pinned key. */
  fingerprint: string;
  /** The key blob (SSH wire format) when the pin was given as a public key line. */
  blob?: Buffer;
}

/** `SHA256:<base64 without padding>` of an SSH public key blob, as OpenSSH prints it. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

const KEY_LINE =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com)\s+([A-Za-z0-9+/]+={0,2})(\s.*)?$/;
const FINGERPRINT = /^SHA256:([A-Za-z0-9+/]{43})=?$/;

/** Parses a pinned host key; throws RdsError("invalid") for anything else, so a typo fails at startup. */
export function parseHostKeyPin(pin: string): HostKeyPin {
  const text = pin.trim();
  const fp = FINGERPRINT.exec(text);
  if (fp) return { fingerprint: `SHA256:${fp[1]}` };
  const line = KEY_LINE.exec(text);
  if (line) {
    const blob = Buffer.from(line[2] as string, "base64");
    // The blob starts with its own key type as an SSH string: a pasted line must be self-consistent.
    const typeLength = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
    if (typeLength > 0 && blob.subarray(4, 4 + typeLength).toString("latin1") === line[1]) {
      return { fingerprint: fingerprintOf(blob), blob };
    }
  }
  throw new RdsError(
    "invalid",
    "host key must be an OpenSSH public key line (`ssh-ed25519 AAAA...`) or a `SHA256:...` fingerprint",
  );
}

/** Whether the key the server presented (wire-format blob) is the pinned one. */
export function hostKeyMatches(pin: HostKeyPin, presented: Buffer): boolean {
  return pin.blob ? pin.blob.equals(presented) : fingerprintOf(presented) === pin.fingerprint;
}
