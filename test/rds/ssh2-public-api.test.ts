// The SSH client uses only ssh2's public API: its private `_sock` changed shape between releases before,
// and a dependency update must not silently turn off TCP_NODELAY or the "never sent" detection.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

describe("src/rds and ssh2", () => {
  it("no file reaches into ssh2's private fields", () => {
    const dir = join(import.meta.dirname, "../../src/rds");
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) expect(readFileSync(join(dir, f), "utf8"), f).not.toMatch(/\._sock\b|_sock\?/);
  });
});
