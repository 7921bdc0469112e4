// A small reader for the top-level Dockerfile and .dockerignore, enough to check their invariants without a
// container engine (none runs on this CI): stages, ARG defaults, USER, installed packages, COPY sources, and
// Docker's .dockerignore matching (last matching pattern wins; a pattern matching a parent directory
// matches everything below it).

export interface Instruction {
  keyword: string; // upper case
  args: string; // the rest of the (joined) line
  line: number; // 1-based line of the instruction's start
}

export interface Stage {
  name: string | undefined;
  /** FROM's image with ARG defaults substituted. */
  image: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  args: Map<string, string>; // global ARG defaults (before the first FROM)
  stages: Stage[];
}

/** Joins backslash continuations, drops comments and blank lines. */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split("\n");
  let pending = "";
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? "";
    const trimmed = raw.trim();
    if (pending === "" && (trimmed === "" || trimmed.startsWith("#"))) continue;
    if (pending !== "" && trimmed.startsWith("#")) continue; // comment lines inside a continuation
    if (pending === "") start = i + 1;
    if (trimmed.endsWith("\\")) {
      pending += `${trimmed.slice(0, -1)} `;
      continue;
    }
    const full = (pending + trimmed).trim();
    pending = "";
    const m = full.match(/^(\S+)\s*(.*)$/);
    if (m) out.push({ keyword: (m[1] ?? "").toUpperCase(), args: m[2] ?? "", line: start });
  }
  return out;
}

export function substitute(s: string, vars: Map<string, string>): string {
  return s.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (_all, a: string | undefined, b: string | undefined) => vars.get((a ?? b)!) ?? "",
  );
}

export function parseDockerfile(text: string): Dockerfile {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions(text)) {
    if (ins.keyword === "ARG" && stages.length === 0) {
      const [name, ...rest] = ins.args.split("=");
      args.set(name!.trim(), rest.join("=").trim());
    } else if (ins.keyword === "FROM") {
      const m = ins.args.match(/^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i);
      if (!m) throw new Error(`line ${ins.line}: cannot parse FROM ${ins.args}`);
      stages.push({ image: substitute(m[1]!, args), name: m[2], instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`line ${ins.line}: ${ins.keyword} before the first FROM`);
      stage.instructions.push(ins);
    }
  }
  return { args, stages };
}

/** Stages a stage is built on (FROM <stage>), itself first. */
export function lineage(df: Dockerfile, name: string): Stage[] {
  const chain: Stage[] = [];
  let current = df.stages.find((s) => s.name === name);
  while (current) {
    chain.push(current);
    const parent = current.image;
    current = df.stages.find((s) => s.name === parent);
  }
  return chain;
}

/** The effective USER of a stage (the last USER in it or its parent stages; "root" by default). */
export function effectiveUser(df: Dockerfile, name: string): string {
  for (const stage of lineage(df, name)) {
    const users = stage.instructions.filter((i) => i.keyword === "USER");
    if (users.length) return users.at(-1)!.args.trim();
  }
  return "root";
}

/** Packages named by `apt-get install` in a stage and its parents. */
export function aptPackages(df: Dockerfile, name: string): Set<string> {
  const pkgs = new Set<string>();
  for (const stage of lineage(df, name))
    for (const ins of stage.instructions) {
      if (ins.keyword !== "RUN") continue;
      for (const cmd of ins.args.split(/&&|;/)) {
        const m = cmd.match(/apt-get\s+install\s+(.*)$/);
        if (!m) continue;
        for (const word of m[1]!.split(/\s+/)) if (word && !word.startsWith("-")) pkgs.add(word);
      }
    }
  return pkgs;
}

/** Sources of `COPY` instructions that read the build context (not `--from=`). */
export function contextCopies(df: Dockerfile): string[] {
  const out: string[] = [];
  for (const stage of df.stages)
    for (const ins of stage.instructions) {
      if (ins.keyword !== "COPY" && ins.keyword !== "ADD") continue;
      const words = ins.args.split(/\s+/).filter(Boolean);
      if (words.some((w) => w.startsWith("--from="))) continue;
      const paths = words.filter((w) => !w.startsWith("--"));
      out.push(...paths.slice(0, -1));
    }
  return out;
}

// ---- .dockerignore ----------------------------------------------------------------------------------

interface IgnoreRule {
  exclude: boolean;
  re: RegExp;
}

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
      if (glob[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split("\n")) {
    let line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const exclude = !line.startsWith("!");
    if (!exclude) line = line.slice(1).trim();
    // Docker cleans patterns like filepath.Clean: no leading "/", no trailing "/".
    line = line.replace(/^\/+/, "").replace(/\/+$/, "");
    rules.push({ exclude, re: globToRegExp(line) });
  }
  return rules;
}

/** Whether a context-relative path is left out of the build context. */
export function isIgnored(rules: IgnoreRule[], relPath: string): boolean {
  const parts = relPath.replace(/\/+$/, "").split("/");
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) ignored = rule.exclude;
  return ignored;
}
