// The install guide's host-key step (issue 17 item 7) run against the simulator: the RouterOS commands
// the guide gives (`/ip/ssh/export-host-key`, reading the public key file, removing the files) over SSH, then
// the guide's workstation conversion of the exported PEM into the OpenSSH line the driver pins, for both host
// key types RouterOS has. The resulting pin must be the simulator's own host key.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseHostKeyPin } from "../../src/rds/host-key.ts";
import type { Simulator } from "../../src/sim/types.ts";
import { connect, startTestSim, tempDir } from "./helpers.ts";

/** On the RDS console (as a user with the `sensitive` policy), exactly as the guide gives them. */
const GUIDE_RDS_COMMANDS = {
  exportKey: "/ip/ssh/export-host-key key-file-prefix=rds-host",
  showPublicKey: ':put [/file/get [find name~"^rds-host_.*pub"] contents]',
  removeFiles: '/file/remove [find name~"^rds-host_"]',
};

/** On the workstation, in the directory holding the pasted `rds-host-key.pem`, as the guide gives them. */
const GUIDE_CONVERT = {
  ed25519:
    "printf 'ssh-ed25519 %s\\n' \"$({ printf '\\000\\000\\000\\013ssh-ed25519\\000\\000\\000\\040'; openssl pkey -pubin -in rds-host-key.pem -outform DER | tail -c 32; } | openssl base64 -A)\" > rds-host-key.pub",
  rsa: "ssh-keygen -i -m PKCS8 -f rds-host-key.pem > rds-host-key.pub",
};

const dirs: Array<{ remove(): void }> = [];
const sims: Simulator[] = [];
afterAll(async () => {
  for (const s of sims) await s.close();
  for (const d of dirs) d.remove();
});

async function followGuide(sim: Simulator, type: "ed25519" | "rsa"): Promise<string> {
  const s = await connect(sim);
  try {
    expect(await s.exec(GUIDE_RDS_COMMANDS.exportKey)).toEqual({ stdout: "", stderr: "", code: 0 });
    const names = (await s.exec(':put [/file/print as-value where name~"^rds-host_"]')).stdout;
    expect(names).toContain(`name=rds-host_${type}.pem;`);
    expect(names).toContain(`name=rds-host_${type}_pub.pem;`);
    const shown = (await s.exec(GUIDE_RDS_COMMANDS.showPublicKey)).stdout;
    expect(shown).toMatch(/^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n\r\n$/);
    const work = tempDir("rds-guide-");
    dirs.push(work);
    writeFileSync(join(work.dir, "rds-host-key.pem"), shown.replace(/\r\n$/, ""));
    execFileSync("sh", ["-c", GUIDE_CONVERT[type]], { cwd: work.dir });
    const line = execFileSync("cat", [join(work.dir, "rds-host-key.pub")], { encoding: "utf8" });
    const printed = execFileSync("ssh-keygen", ["-lf", join(work.dir, "rds-host-key.pub")], {
      encoding: "utf8",
    });
    expect(await s.exec(GUIDE_RDS_COMMANDS.removeFiles)).toEqual({ stdout: "", stderr: "", code: 0 });
    expect((await s.exec(':put [:len [/file/find name~"^rds-host_"]]')).stdout).toBe("0\r\n");
    // What the driver pins, from the line and from ssh-keygen's fingerprint: the simulator's own key.
    expect(parseHostKeyPin(line).fingerprint).toBe(sim.hostKeyFingerprint);
    expect(printed.split(" ")[1]).toBe(sim.hostKeyFingerprint);
    return line;
  } finally {
    s.close();
  }
}

describe("the install guide's host-key step", () => {
  it("works against an ed25519 host key (the simulator's default)", async () => {
    const d = tempDir();
    dirs.push(d);
    const sim = await startTestSim({ dataDir: d.dir });
    sims.push(sim);
    expect(await followGuide(sim, "ed25519")).toBe(`${sim.hostPublicKey}\n`);
  });

  it("works against an RSA host key (RouterOS's default host-key-type)", async () => {
    const d = tempDir();
    dirs.push(d);
    const keyFile = join(d.dir, "rsa_host_key");
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(keyFile, rsa.privateKey.export({ type: "pkcs1", format: "pem" }), { mode: 0o600 });
    const sim = await startTestSim({ dataDir: join(d.dir, "data"), hostKeyPath: keyFile });
    sims.push(sim);
    expect((await followGuide(sim, "rsa")).startsWith("ssh-rsa AAAA")).toBe(true);
  });
});

describe("/ip ssh export-host-key", () => {
  it("writes PKCS#8 files in the root of /file, encrypted with a passphrase; needs a plain prefix", async () => {
    const d = tempDir();
    dirs.push(d);
    const sim = await startTestSim({ dataDir: d.dir });
    sims.push(sim);
    const s = await connect(sim);
    try {
      await s.exec('/ip ssh export-host-key key-file-prefix=k passphrase="secret words"');
      expect((await s.exec(":put [/file get k_ed25519.pem contents]")).stdout).toMatch(
        /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/,
      );
      expect((await s.exec('/file print detail where name~"^k_"')).stdout).toMatch(
        /name=k_ed25519.pem type=.pem file size=\d+ /,
      );
      // Replaced, not refused, when exported again.
      await s.exec("/ip ssh export-host-key key-file-prefix=k");
      expect((await s.exec(":put [/file get k_ed25519.pem contents]")).stdout).toMatch(
        /^-----BEGIN PRIVATE KEY-----\n/,
      );
      expect((await s.exec("/ip ssh export-host-key")).stdout).toBe(
        "failure: key-file-prefix must be specified\r\n",
      );
      expect((await s.exec("/ip ssh export-host-key key-file-prefix=storage-pool/k")).stdout).toBe(
        "failure: invalid file name\r\n",
      );
      // The pools' disk images are never read as contents.
      await s.exec("/disk add type=file slot=big file-path=storage-pool/big.img file-size=1M");
      expect((await s.exec(":put [/file get storage-pool/big.img contents]")).stdout).toBe(
        "failure: file is too big or not a file\r\n",
      );
    } finally {
      s.close();
    }
  });
});
