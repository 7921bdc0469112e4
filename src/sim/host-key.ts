// The simulator's SSH host key: loaded from a file, or created (ed25519) and kept there so the fingerprint
// the driver pins survives restarts (regenerating it would break pinning, as on a real RDS, §6).
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import ssh2 from "ssh2";

export interface HostKey {
  privateKey: string;
  /** OpenSSH public key line, `ssh-ed25519 AAAA...`. */
  publicKeyLine: string;
  /** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

/** Public line and fingerprint of an OpenSSH/PEM key (private or public). */
export function describeKey(key: string | Buffer): {
  type: string;
  blob: Buffer;
  publicKeyLine: string;
  fingerprint: string;
} {
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) throw new Error(`cannot parse SSH key: ${parsed.message}`);
  const blob = parsed.getPublicSSH();
  return {
    type: parsed.type,
    blob,
    publicKeyLine: `${parsed.type} ${blob.toString("base64")}`,
    fingerprint: `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`,
  };
}

/**
 * An ed25519 key pair in OpenSSH format. ssh2's generator (1.17) drops a leading zero byte of the public key
 * about once in 256 keys, producing a key ssh2 itself then rejects as malformed: generate until it parses.
 */
export function generateEd25519KeyPair(comment = ""): { private: string; public: string } {
  for (let attempt = 0; ; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync("ed25519", { comment });
    if (
      !(ssh2.utils.parseKey(pair.private) instanceof Error) &&
      !(ssh2.utils.parseKey(pair.public) instanceof Error)
    ) {
      return pair;
    }
    if (attempt >= 20) throw new Error("could not generate a valid ed25519 key");
  }
}

export async function loadOrCreateHostKey(path: string): Promise<HostKey> {
  let privateKey: string;
  try {
    privateKey = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    privateKey = generateEd25519KeyPair("rds-csi simulator").private;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    try {
      await writeFile(path, privateKey, { mode: 0o600, flag: "wx" });
    } catch (e) {
      // Another simulator on the same data directory created it first: use theirs.
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      privateKey = await readFile(path, "utf8");
    }
  }
  const { publicKeyLine, fingerprint } = describeKey(privateKey);
  return { privateKey, publicKeyLine, fingerprint };
}

/**
 * The host key as `/ip ssh export-host-key` writes it (RouterOS manual, CLI reference
 * `ip/ssh/export-host-key`): PKCS#8 PEM private key (encrypted with the passphrase when one is given) and
 * SubjectPublicKeyInfo PEM public key, named by the key type (`rsa`, `ed25519`).
 */
export function exportHostKeyPem(
  privateKey: string,
  passphrase?: string,
): { type: "rsa" | "ed25519"; privatePem: string; publicPem: string } {
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`cannot parse SSH key: ${parsed.message}`);
  const type = parsed.type === "ssh-ed25519" ? "ed25519" : parsed.type === "ssh-rsa" ? "rsa" : undefined;
  if (!type)
    throw new Error(`host key type ${parsed.type} cannot be exported (RouterOS has rsa and ed25519)`);
  const key = createPrivateKey(parsed.getPrivatePEM());
  const privatePem = passphrase
    ? key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase })
    : key.export({ type: "pkcs8", format: "pem" });
  const publicPem = createPublicKey(key).export({ type: "spki", format: "pem" });
  return { type, privatePem: String(privatePem), publicPem: String(publicPem) };
}
