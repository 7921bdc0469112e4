// Fails when the modules under a directory (default src/) import each other in a circle. A circle makes
// the load order decide which module sees the other's exports as undefined, and it means two concerns
// that should be layered are tangled. Type-only imports count too: they tangle the design the same way,
// even though they vanish at run time.
//
// The import graph comes from the source text: static `import ... from "./x.ts"`, `export ... from`,
// side-effect `import "./x.ts"` and dynamic `import("./x.ts")` with a literal relative path. Package
// imports cannot form a circle through our files and are ignored. Usage:
//   node scripts/check-import-cycles.ts [dir]   → exit 1 and one line per circle when there are any
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SPECIFIER =
  /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|js|mjs)$/.test(entry) && !entry.endsWith(".d.ts")) out.push(path);
  }
  return out.sort();
}

/** Comments removed, so an import named in a comment is not an edge; strings are left as they are. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

/** The graph: each file → the files under the same root it imports. */
export function importGraph(root: string): Map<string, string[]> {
  const files = sourceFiles(resolve(root));
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const deps = new Set<string>();
    for (const m of withoutComments(readFileSync(file, "utf8")).matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith(".")) continue;
      const target = resolve(dirname(file), spec);
      if (known.has(target)) deps.add(target);
    }
    graph.set(file, [...deps].sort());
  }
  return graph;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function importCycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** One circle through the component, as a readable path a → b → … → a. */
export function describeCycle(graph: Map<string, string[]>, component: string[], root: string): string {
  const inside = new Set(component);
  const start = component[0]!;
  // Breadth-first from start back to start, staying inside the component: the shortest circle.
  const prev = new Map<string, string>();
  const queue = [start];
  let found = false;
  while (queue.length && !found) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!inside.has(w)) continue;
      if (w === start) {
        prev.set(start, v);
        found = true;
        break;
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  const path = [start];
  for (let v = prev.get(start)!; v !== start; v = prev.get(v)!) path.unshift(v);
  path.unshift(start);
  const rel = (f: string) => relative(root, f);
  return `${path.map(rel).join(" → ")}${component.length > path.length - 1 ? ` (and ${component.length - (path.length - 1)} more files in the same circle)` : ""}`;
}

if (import.meta.main) {
  const dir = process.argv[2] ?? "src";
  const graph = importGraph(dir);
  const cycles = importCycles(graph);
  for (const c of cycles) console.error(`import circle: ${describeCycle(graph, c, process.cwd())}`);
  if (cycles.length) {
    console.error(`check-import-cycles: ${cycles.length} import circle(s) in ${dir}/`);
    process.exit(1);
  }
  console.log(`check-import-cycles: no import circles in ${dir}/ (${graph.size} files)`);
}
