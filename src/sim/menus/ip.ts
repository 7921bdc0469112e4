// `/ip ssh export-host-key key-file-prefix=<p> [passphrase=<pw>]` (RouterOS manual, SSH page and CLI reference
// `ip/ssh/export-host-key`; docs/routeros.md §6): writes the SSH host key to two files in the root of `/file`,
// `<p>_<type>.pem` (private, PKCS#8 PEM) and `<p>_<type>_pub.pem` (public, PEM), `<type>` being `rsa` or
// `ed25519`. It is how an operator takes the host key to pin from the appliance itself (docs/install.md).
// On RouterOS it needs the `sensitive` policy; the simulator has no user policies. An existing file of
// the same name is replaced, and `key-file-prefix` is required and a plain name **[chosen]**.
import { argText } from "../args.ts";
import type { CommandDef, MenuNode } from "../commands.ts";
import { menuNode } from "../commands.ts";
import { FAILURES, failure } from "../errors.ts";
import { exportHostKeyPem } from "../host-key.ts";
import { NIL } from "../values.ts";

const exportHostKey: CommandDef = {
  args: { "key-file-prefix": "value", passphrase: "value" },
  async run(ctx, call) {
    const prefix = argText(call, "key-file-prefix");
    if (!prefix) throw failure("key-file-prefix must be specified");
    const store = ctx.services.store;
    if (prefix.includes("/") || store.normalizeName(prefix) !== prefix) throw failure(FAILURES.invalidPath);
    const key = exportHostKeyPem(ctx.services.hostKey, argText(call, "passphrase") || undefined);
    await store.writeRootFile(`${prefix}_${key.type}.pem`, key.privatePem, 0o600);
    await store.writeRootFile(`${prefix}_${key.type}_pub.pem`, key.publicPem, 0o644);
    return NIL;
  },
};

export function ipMenu(): MenuNode {
  return menuNode("ip", {}, [menuNode("ssh", { "export-host-key": exportHostKey })]);
}
