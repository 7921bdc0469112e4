// Code, tests and docs cite RouterOS facts as `docs/routeros.md §N`; every cited section must exist there
// (a renumbered or missing section would leave a comment pointing at nothing).
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => /\.(ts|md)$/.test(f))
    .map((f) => join(dir, f));
}

/** Section numbers of the headings: `## 4. /file` → 4, `#### 1.6b ...` → 1.6b. */
function sections(): Set<string> {
  const text = readFileSync(join(ROOT, "docs/routeros.md"), "utf8");
  return new Set([...text.matchAll(/^#{2,4} (\d+(?:\.\d+[a-z]?)?)\.? /gm)].map((m) => m[1]!));
}

/** `§1.6b`, `§1.2–1.6` (both ends) after `routeros.md` on a line, up to a citation of another document. */
function citations(): { where: string; section: string }[] {
  const out: { where: string; section: string }[] = [];
  for (const file of [...files("src"), ...files("test"), ...files("docs"), "README.md"]) {
    readFileSync(join(ROOT, file), "utf8")
      .split("\n")
      .forEach((line, i) => {
        const at = line.indexOf("routeros.md");
        if (at < 0) return;
        const rest = line.slice(at).split(/tik4net|prior-art|manual/)[0]!;
        for (const m of rest.matchAll(/§(\d+(?:\.\d+[a-z]?)?)(?:[–-](\d+(?:\.\d+[a-z]?)?))?/g))
          for (const s of [m[1], m[2]]) if (s) out.push({ where: `${file}:${i + 1}`, section: s });
      });
  }
  return out;
}

describe("docs/routeros.md", () => {
  it("has every section that code, tests and docs cite", () => {
    const have = sections();
    const cited = citations();
    expect(cited.length).toBeGreaterThan(10);
    expect(cited.filter((c) => !have.has(c.section))).toEqual([]);
  });
});
