// The lock file must be complete and agree with package.json, or `npm ci` (the only install the README's
// commands and the Dockerfile use) fails on a fresh machine. `npm ci --dry-run --offline` runs npm's own
// agreement check without touching node_modules or the network; the negative case proves the check can fail
// (an incomplete lock, missing one platform's optional binary, is what once broke every fresh clone).
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function projectCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "rds-csi-lock-"));
  dirs.push(dir);
  copyFileSync(join(ROOT, "package.json"), join(dir, "package.json"));
  copyFileSync(join(ROOT, "package-lock.json"), join(dir, "package-lock.json"));
  return dir;
}

function npmCiDryRun(dir: string) {
  return spawnSync(
    "npm",
    ["ci", "--dry-run", "--offline", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
    { cwd: dir, encoding: "utf8", env: { ...process.env, npm_config_update_notifier: "false" } },
  );
}

describe("package-lock.json", () => {
  it("is complete and in sync with package.json (npm ci accepts it)", () => {
    const r = npmCiDryRun(projectCopy());
    expect(r.stderr).not.toMatch(/EUSAGE|Missing:/);
    expect(r.status).toBe(0);
  });

  it("records every platform's optional binaries, not only this machine's", () => {
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { optionalDependencies?: Record<string, string> }>;
    };
    for (const [path, meta] of Object.entries(lock.packages)) {
      for (const dep of Object.keys(meta.optionalDependencies ?? {})) {
        const nested = `${path}/node_modules/${dep}`;
        const hoisted = `node_modules/${dep}`;
        expect(
          lock.packages[nested] ?? lock.packages[hoisted],
          `${dep} (optional dependency of ${path || "the root"})`,
        ).toBeDefined();
      }
    }
  });

  it("a lock that disagrees with package.json is refused (the check can fail)", () => {
    const dir = projectCopy();
    const lockPath = join(dir, "package-lock.json");
    const lock = JSON.parse(readFileSync(lockPath, "utf8")) as { packages: Record<string, unknown> };
    const victim = Object.keys(lock.packages).find((p) => p.startsWith("node_modules/@biomejs/cli-win32"));
    expect(victim).toBeDefined();
    delete lock.packages[victim as string];
    writeFileSync(lockPath, JSON.stringify(lock, null, 2));
    const r = npmCiDryRun(dir);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Missing:/);
  });
});
