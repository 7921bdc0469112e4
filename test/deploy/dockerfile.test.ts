// The Dockerfile cannot be built here (no container engine on this machine or in CI), so its invariants
// are checked by reading it, and the image's file layout is rebuilt in a temporary directory from exactly
// what the Dockerfile copies (build context filtered by .dockerignore, production dependencies only) and
// the driver is run from there with nothing else on its module path.
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  aptPackages,
  contextCopies,
  type Dockerfile,
  effectiveUser,
  isIgnored,
  lineage,
  parseDockerfile,
  parseDockerignore,
} from "./dockerfile.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const df: Dockerfile = parseDockerfile(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
const ignore = parseDockerignore(readFileSync(join(ROOT, ".dockerignore"), "utf8"));
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
  packages: Record<string, { version?: string; dev?: boolean; optional?: boolean; devOptional?: boolean }>;
};

/** Every host tool the node plugin runs, and the Debian package that provides it in the image. */
const NODE_TOOLS: Record<string, string> = {
  nvme: "nvme-cli",
  modprobe: "kmod",
  mount: "mount",
  umount: "mount",
  losetup: "mount",
  blkid: "util-linux",
  "mkfs.ext4": "e2fsprogs",
  "mkfs.ext3": "e2fsprogs",
  e2fsck: "e2fsprogs",
  "fsck.ext4": "e2fsprogs",
  resize2fs: "e2fsprogs",
  dumpe2fs: "e2fsprogs",
  "mkfs.xfs": "xfsprogs",
  xfs_repair: "xfsprogs",
  xfs_growfs: "xfsprogs",
  mknod: "coreutils", // Essential in every Debian image
  sync: "coreutils",
  od: "coreutils", // src/node/mount/device-read.ts: superblock reads
  stat: "coreutils", // statfs of a mount, loop backing files
  cmp: "diffutils", // Essential too: the zero check of the probe
  xfs_io: "xfsprogs", // src/node/mount/shutdown.ts
  bash: "bash", // Essential too; src/util/exec-helper.ts starts the tools through it
};
const ESSENTIAL = new Set(["coreutils", "bash", "diffutils"]);

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

describe("Dockerfile", () => {
  it("pins every base image to an exact version (tag with a version or date, or a digest)", () => {
    expect(df.stages.length).toBeGreaterThan(0);
    for (const stage of df.stages) {
      if (df.stages.some((s) => s.name === stage.image)) continue; // built on another stage
      const [, tag = ""] = stage.image.split("@")[0]!.split(":");
      const pinned = stage.image.includes("@sha256:") || /\d+\.\d+\.\d+|\d{8}/.test(tag);
      expect(pinned, `${stage.image} is not pinned`).toBe(true);
      expect(tag).not.toBe("latest");
    }
  });

  it("runs the Node.js version the test suite runs on (the node devDependency in package-lock.json)", () => {
    const nodeVersion = lock.packages["node_modules/node"]?.version;
    expect(nodeVersion).toMatch(/^24\./);
    expect(df.args.get("NODE_IMAGE")).toMatch(new RegExp(`^node:${nodeVersion!.replace(/\./g, "\\.")}-`));
    // Both bases are the same Debian release, so the copied node binary finds its glibc and libstdc++.
    const release = (img: string | undefined) => img?.match(/(bookworm|trixie)/)?.[1];
    expect(release(df.args.get("NODE_IMAGE"))).toBeDefined();
    expect(release(df.args.get("NODE_IMAGE"))).toBe(release(df.args.get("DEBIAN_IMAGE")));
  });

  it("installs production dependencies only, without install scripts", () => {
    const build = df.stages.find((s) => s.name === "build")!;
    const npm = build.instructions.find((i) => i.keyword === "RUN" && i.args.includes("npm ci"));
    expect(npm?.args).toMatch(/--omit=dev/);
    expect(npm?.args).toMatch(/--ignore-scripts/);
  });

  it("has a non-root controller target and a root node target, node being the default (last) stage", () => {
    const names = df.stages.map((s) => s.name);
    expect(names).toContain("controller");
    expect(df.stages.at(-1)?.name).toBe("node");
    const [uid, gid] = effectiveUser(df, "controller").split(":");
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(gid ?? uid)).toBeGreaterThan(0);
    expect(effectiveUser(df, "node").split(":")[0]).toMatch(/^(0|root)$/);
  });

  it("keeps host tools out of the controller and puts every tool the node plugin runs into the node image", () => {
    const node = aptPackages(df, "node");
    for (const pkg of ["nvme-cli", "e2fsprogs", "xfsprogs", "util-linux", "mount", "kmod"])
      expect(node).toContain(pkg);
    for (const [tool, pkg] of Object.entries(NODE_TOOLS))
      if (!ESSENTIAL.has(pkg)) expect(node, `${tool} comes from ${pkg}`).toContain(pkg);
    const controller = aptPackages(df, "controller");
    for (const pkg of ["nvme-cli", "xfsprogs", "kmod"]) expect(controller).not.toContain(pkg);
  });

  it("knows every command the node code runs (a new host tool must be added to the image and to this list)", () => {
    const commands = new Set<string>();
    for (const file of filesUnder(join(ROOT, "src", "node")).filter((f) => f.endsWith(".ts"))) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/\brun\(\s*"([A-Za-z0-9_.-]+)"/g)) commands.add(m[1]!);
      for (const m of text.matchAll(/\w+Command:\s*"([A-Za-z0-9_.-]+)"/g)) commands.add(m[1]!);
      for (const m of text.matchAll(/`mkfs\.\$\{/g)) if (m) commands.add("mkfs.ext4").add("mkfs.xfs");
    }
    expect(commands.size).toBeGreaterThan(5);
    for (const c of commands) expect(NODE_TOOLS, `src/node runs "${c}"`).toHaveProperty([c]);
  });

  it("cleans the apt lists in the layer that fills them and skips recommended packages", () => {
    for (const stage of df.stages)
      for (const ins of stage.instructions.filter(
        (i) => i.keyword === "RUN" && i.args.includes("apt-get install"),
      )) {
        expect(ins.args).toMatch(/--no-install-recommends/);
        expect(ins.args).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
      }
  });

  it("starts the driver through tini from the application directory", () => {
    const runtime = lineage(df, "node").find((s) => s.instructions.some((i) => i.keyword === "ENTRYPOINT"));
    const entry = runtime?.instructions.find((i) => i.keyword === "ENTRYPOINT");
    expect(JSON.parse(entry!.args)).toEqual(["/usr/bin/tini", "--", "/opt/rds-csi/bin/rds-csi"]);
  });

  it("builds dist/ in the build stage and ships no sources", () => {
    const build = df.stages.find((st) => st.name === "build");
    expect(
      build?.instructions.some(
        (i) => i.keyword === "RUN" && i.args === "node scripts/build.ts && rm -rf src scripts",
      ),
    ).toBe(true);
  });

  it("copies nothing that .dockerignore leaves out of the build context", () => {
    const sources = contextCopies(df);
    expect(sources).toEqual(
      expect.arrayContaining(["package.json", "package-lock.json", "bin/", "src/", "proto/"]),
    );
    for (const s of sources) {
      const from = join(ROOT, s);
      const files = statSync(from).isDirectory() ? filesUnder(from) : [from];
      const kept = files.filter((f) => !isIgnored(ignore, relative(ROOT, f)));
      expect(kept.length, `COPY ${s}: .dockerignore leaves part of it out of the context`).toBe(files.length);
    }
    for (const s of [
      "node_modules/x",
      ".git/HEAD",
      "test/smoke.test.ts",
      "out/x",
      ".cache/bin/helm",
      "deploy/x",
    ])
      expect(isIgnored(ignore, s), s).toBe(true);
  });
});

describe("the image's application directory, rebuilt from what the Dockerfile copies", () => {
  let app: string;
  let work: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "rds-csi-image-"));
    app = join(work, "opt", "rds-csi");
    mkdirSync(app, { recursive: true });
    // The build context's files that the Dockerfile copies.
    for (const src of contextCopies(df)) {
      const from = join(ROOT, src);
      const files = statSync(from).isDirectory() ? filesUnder(from) : [from];
      for (const f of files) {
        const rel = relative(ROOT, f);
        if (isIgnored(ignore, rel)) continue;
        mkdirSync(dirname(join(app, rel)), { recursive: true });
        cpSync(f, join(app, rel));
      }
    }
    // The build stage's `RUN node scripts/build.ts && rm -rf src scripts`: dist/ replaces the sources.
    const r = spawnSync(
      join(ROOT, "node_modules", "node", "bin", "node"),
      [join(app, "scripts", "build.ts")],
      {
        encoding: "utf8",
      },
    );
    if (r.status !== 0) throw new Error(`scripts/build.ts failed: ${r.stderr}`);
    rmSync(join(app, "src"), { recursive: true });
    rmSync(join(app, "scripts"), { recursive: true });
    // What `npm ci --omit=dev --omit=optional` installs: the lockfile's non-dev, non-optional packages.
    for (const [p, meta] of Object.entries(lock.packages)) {
      if (!p.startsWith("node_modules/") || meta.dev || meta.optional || meta.devOptional) continue;
      cpSync(join(ROOT, p), join(app, p), { recursive: true, dereference: true });
    }
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const run = (...args: string[]) =>
    spawnSync(join(app, "bin", "rds-csi"), args, {
      encoding: "utf8",
      timeout: 30_000,
      // The image's node is /usr/local/bin/node; here the project's own (same version) plays that part.
      env: { PATH: "/usr/bin:/bin", RDS_CSI_NODE: join(ROOT, "node_modules", "node", "bin", "node") },
    });

  it("prints its version", () => {
    const r = run("version");
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^rds-csi \d+\.\d+\.\d+/);
  });

  it("loads the whole controller/node wiring and stops at configuration, not at a missing module", () => {
    const r = run("controller");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/invalid configuration: --rds-address.* is required/);
    const n = run("node");
    expect(n.status).toBe(2);
    expect(n.stderr).toMatch(/--node-id is required/);
  });

  it("ships dist/ instead of src/: one JavaScript module per source module, no .ts import left", () => {
    expect(existsSync(join(app, "src"))).toBe(false);
    const sources = filesUnder(join(ROOT, "src"))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => relative(join(ROOT, "src"), f).replace(/\.ts$/, ".js"))
      .sort();
    const shipped = filesUnder(join(app, "dist"))
      .map((f) => relative(join(app, "dist"), f))
      .sort();
    expect(shipped).toEqual(sources);
    for (const f of filesUnder(join(app, "dist")))
      expect(readFileSync(f, "utf8"), f).not.toMatch(/(from\s*|import\s*\(?\s*)["']\.{1,2}\/[^"']*\.ts["']/);
  });

  it("can import every shipped module with production dependencies only", () => {
    const modules = filesUnder(join(app, "dist"))
      .filter((f) => f.endsWith(".js") && !f.endsWith(join("cli", "main.js")))
      .map((f) => `file://${f}`);
    const script = `for (const m of ${JSON.stringify(modules)}) await import(m);`;
    const r = spawnSync(
      join(ROOT, "node_modules", "node", "bin", "node"),
      ["--input-type=module", "-e", script],
      {
        encoding: "utf8",
        cwd: app,
        timeout: 60_000,
      },
    );
    expect(r.stderr.replace(/.*ExperimentalWarning.*\n?/g, "")).not.toMatch(
      /ERR_MODULE_NOT_FOUND|Cannot find/,
    );
    expect(r.status).toBe(0);
  });
});
