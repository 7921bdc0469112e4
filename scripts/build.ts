// Builds dist/: the sources with their types stripped, for the container image.
//
// Why: Node 24 runs the .ts sources directly, but its type stripper (a WebAssembly build of swc) stays in
// memory once loaded and its heap grows with every file it strips: about 30 MiB of the node plugin's
// resident memory, on every node of the cluster. Stripping once at image build time removes that.
//
// How: node:module's stripTypeScriptTypes, the very transform Node applies at run time (the sources use
// erasable syntax only, tsconfig enforces it), so dist/ behaves exactly like src/. Relative import
// specifiers are rewritten from .ts to .js. Other files under src/ are copied as they are, except docs.
//
// Usage: node scripts/build.ts [outDir]   (default: dist). bin/rds-csi runs dist/ when src/ is absent.
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const SRC = join(ROOT, "src");
const OUT = resolve(process.argv[2] ?? join(ROOT, "dist"));

// `from "./x.ts"`, `import "./x.ts"`, `import("./x.ts")`: relative specifiers only (packages are untouched).
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(?\s*)(["'])(\.{1,2}\/[^"'\n]*?)\.ts\2/g;

export function rewriteSpecifiers(code: string): string {
  return code.replace(SPECIFIER, (_m, lead: string, q: string, path: string) => `${lead}${q}${path}.js${q}`);
}

export function build(out = OUT): number {
  rmSync(out, { recursive: true, force: true });
  let count = 0;
  const files = readdirSync(SRC, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
  for (const file of files) {
    const rel = relative(SRC, file);
    mkdirSync(dirname(join(out, rel)), { recursive: true });
    if (file.endsWith(".md")) continue;
    if (!file.endsWith(".ts")) {
      cpSync(file, join(out, rel));
      continue;
    }
    const js = rewriteSpecifiers(stripTypeScriptTypes(readFileSync(file, "utf8"), { mode: "strip" }));
    writeFileSync(join(out, rel.replace(/\.ts$/, ".js")), js);
    count++;
  }
  return count;
}

if (import.meta.main) {
  const n = build();
  console.log(`built ${n} modules into ${relative(process.cwd(), OUT) || "."}`);
}
