// Turns the public key PEM that `/ip/ssh/export-host-key` writes (<prefix>_ed25519_pub.pem or _rsa_pub.pem)
// into the one OpenSSH line docs/install.md asks for (`ssh-ed25519 AAAA...`). Debian 12's ssh-keygen
// cannot convert an ed25519 PKCS#8 key (`ssh-keygen -i -m PKCS8` fails), so the harness uses this.
// Usage: node pem-to-openssh.mjs FILE.pem
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";

const key = createPublicKey(readFileSync(process.argv[2], "utf8"));
const field = (b) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};
const mpint = (b) => field(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
const jwk = key.export({ format: "jwk" });
let type;
let blob;
if (key.asymmetricKeyType === "ed25519") {
  type = "ssh-ed25519";
  blob = Buffer.concat([field(Buffer.from(type)), field(Buffer.from(jwk.x, "base64url"))]);
} else if (key.asymmetricKeyType === "rsa") {
  type = "ssh-rsa";
  blob = Buffer.concat([
    field(Buffer.from(type)),
    mpint(Buffer.from(jwk.e, "base64url")),
    mpint(Buffer.from(jwk.n, "base64url")),
  ]);
} else {
  throw new Error(`unsupported host key type ${key.asymmetricKeyType}`);
}
console.log(`${type} ${blob.toString("base64")}`);
