// scripts/check-import-cycles.ts (run by scripts/check.sh after biome): it must find a planted circle,
// including one made only of type imports and one through a dynamic import, ignore imports named in
// comments, and find none in src/.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { describeCycle, importCycles, importGraph } from "../../scripts/check-import-cycles.ts";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function tree(files: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), "import-cycles-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe("check-import-cycles", () => {
  it("finds a planted circle of three files across folders and names it", () => {
    const root = tree({
      "params.ts": 'import { parseMethod } from "./snapshots/method.ts";\nexport const a = 1;\n',
      "snapshots/method.ts": 'import type { Layout } from "./layout.ts";\nexport const parseMethod = 1;\n',
      "snapshots/layout.ts": 'import { a } from "../params.ts";\nexport type Layout = "flat";\n',
      "other.ts": 'import { a } from "./params.ts";\n',
    });
    const graph = importGraph(root);
    const cycles = importCycles(graph);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]!.map((f) => f.slice(root.length + 1)).sort()).toEqual([
      "params.ts",
      "snapshots/layout.ts",
      "snapshots/method.ts",
    ]);
    expect(describeCycle(graph, cycles[0]!, root)).toBe(
      "params.ts → snapshots/method.ts → snapshots/layout.ts → params.ts",
    );
  });

  it("counts re-exports, side-effect and dynamic imports, not imports in comments", () => {
    const root = tree({
      "a.ts": 'export { b } from "./b.ts";\n',
      "b.ts": 'export const b = () => import("./a.ts");\n',
      "c.ts": 'import "./d.ts";\n',
      "d.ts": '// import { c } from "./c.ts";\n/* import "./c.ts"; */\nexport const d = 1;\n',
    });
    const cycles = importCycles(importGraph(root));
    expect(cycles.map((c) => c.map((f) => f.slice(root.length + 1)))).toEqual([["a.ts", "b.ts"]]);
  });

  it("fails the command with the circle on stderr, passes without one", () => {
    const root = tree({ "x.ts": 'import { y } from "./y.ts";\n', "y.ts": 'import { x } from "./x.ts";\n' });
    let stderr = "";
    let status = 0;
    try {
      execFileSync(process.execPath, ["scripts/check-import-cycles.ts", root], { stdio: "pipe" });
    } catch (err) {
      const e = err as { status: number; stderr: Buffer };
      status = e.status;
      stderr = e.stderr.toString();
    }
    expect(status).toBe(1);
    expect(stderr).toMatch(/import circle: .*x\.ts → .*y\.ts → .*x\.ts/);
    rmSync(join(root, "y.ts"));
    execFileSync(process.execPath, ["scripts/check-import-cycles.ts", root], { stdio: "pipe" });
  });

  it("src/ has no import circle", () => {
    expect(importCycles(importGraph("src")).map((c) => describeCycle(importGraph("src"), c, "."))).toEqual(
      [],
    );
  });
});
