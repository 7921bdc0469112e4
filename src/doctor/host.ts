// Where the node checks look. Everything is a path or a command name so tests can point the checks at a
// prepared tree, and so the doctor can run inside the node plugin's container with the host's root
// mounted somewhere (`--host-root /host`): /etc, /lib/modules and /boot are read below hostRoot, while
// /sys, /proc and /dev are the kernel's (shared with the host in a privileged pod).
import { access, readFile } from "node:fs/promises";
import { release } from "node:os";
import { delimiter, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { firstExecutable } from "../util/exec-helper.ts";

export interface HostEnv {
  hostRoot: string;
  sysfsRoot: string;
  procRoot: string;
  devRoot: string;
  mountinfoPath: string;
  /** `uname -r` of the running kernel. */
  kernelRelease: string;
  /** Directories searched for tools (PATH). */
  path: string[];
  tmpDir: string;
}

export function defaultHostEnv(overrides: Partial<HostEnv> = {}): HostEnv {
  return {
    hostRoot: "/",
    sysfsRoot: "/sys",
    procRoot: "/proc",
    devRoot: "/dev",
    mountinfoPath: "/proc/self/mountinfo",
    kernelRelease: release(),
    path: (process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(
      delimiter,
    ),
    tmpDir: process.env.TMPDIR ?? "/tmp",
    ...overrides,
  };
}

export const onHost = (env: HostEnv, path: string): string => join(env.hostRoot, path);

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Absolute path of an executable found on the PATH, like `command -v`. */
export async function which(env: HostEnv, tool: string): Promise<string | undefined> {
  return firstExecutable(env.path.filter(Boolean).map((dir) => join(dir, tool)));
}

export interface OsRelease {
  id: string;
  idLike: string[];
  variantId?: string;
  prettyName: string;
}

/** The host's /etc/os-release (falls back to /usr/lib/os-release), or undefined. */
export async function osRelease(env: HostEnv): Promise<OsRelease | undefined> {
  const text =
    (await readText(onHost(env, "/etc/os-release"))) ?? (await readText(onHost(env, "/usr/lib/os-release")));
  if (text === undefined) return undefined;
  const kv = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) kv.set(m[1] as string, (m[2] as string).replace(/^["']|["']$/g, ""));
  }
  const id = (kv.get("ID") ?? "linux").toLowerCase();
  return {
    id,
    idLike: (kv.get("ID_LIKE") ?? "").toLowerCase().split(/\s+/).filter(Boolean),
    ...(kv.get("VARIANT_ID") ? { variantId: kv.get("VARIANT_ID") } : {}),
    prettyName: kv.get("PRETTY_NAME") ?? id,
  };
}

export interface KernelConfig {
  source: string;
  /** CONFIG_X → "y" | "m" | "n" (n = "is not set"); absent symbols are not in the map. */
  values: Map<string, string>;
}

/** The running kernel's build configuration, from /proc/config.gz or /boot/config-<release>. */
export async function kernelConfig(env: HostEnv): Promise<KernelConfig | undefined> {
  const candidates = [
    join(env.procRoot, "config.gz"),
    onHost(env, `/boot/config-${env.kernelRelease}`),
    onHost(env, `/lib/modules/${env.kernelRelease}/config`),
  ];
  for (const source of candidates) {
    let text: string;
    try {
      const raw = await readFile(source);
      text = source.endsWith(".gz") ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
    } catch {
      continue;
    }
    const values = new Map<string, string>();
    for (const line of text.split("\n")) {
      const set = /^(CONFIG_[A-Z0-9_]+)=(.*)$/.exec(line);
      if (set) values.set(set[1] as string, (set[2] as string).replace(/^"|"$/g, ""));
      const unset = /^# (CONFIG_[A-Z0-9_]+) is not set$/.exec(line);
      if (unset) values.set(unset[1] as string, "n");
    }
    return { source, values };
  }
  return undefined;
}
