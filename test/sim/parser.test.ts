// The CLI grammar on its own: command forms, argument syntax and the error texts with their columns
// (docs/routeros.md §1.4–1.6e, §2.3; tik4net §2–3).
import { describe, expect, it } from "vitest";
import type { Statement } from "../../src/sim/commands.ts";
import { CliError } from "../../src/sim/errors.ts";
import { buildGrammar } from "../../src/sim/interpreter.ts";
import { parseLine } from "../../src/sim/parser.ts";

const grammar = buildGrammar();
const parse = (line: string): Statement[] => parseLine(line, grammar);
const errorOf = (line: string): string => {
  try {
    parse(line);
  } catch (err) {
    if (err instanceof CliError) return err.message;
    throw err;
  }
  throw new Error(`parsed: ${line}`);
};

describe("command forms", () => {
  it("accepts the slash, space and mixed path forms", () => {
    for (const line of [
      "/disk add type=file",
      "/disk/add type=file",
      "disk add type=file",
      "/disk/ add type=file",
    ]) {
      const [st] = parse(line);
      expect(st?.menu.name).toBe("disk");
      expect(st?.name).toBe("add");
    }
    expect(parse("/system resource print")[0]?.menu.name).toBe("resource");
    expect(parse("/system/resource/print")[0]?.menu.name).toBe("resource");
  });

  it("splits commands on ; and ignores empty ones", () => {
    expect(parse('/disk print; :put "x";;').map((s) => s.name)).toEqual(["print", "put"]);
  });

  it("reads quoted values with escapes and variables", () => {
    const [st] = parse('/disk set x comment="a \\"b\\" \\\\ \\$c $v \\41"');
    const v = st?.named.find((a) => a.name === "comment")?.value;
    expect(v).toEqual({ k: "string", parts: ['a "b" \\ $c ', { variable: "v" }, " A"], col: 21 });
  });

  it("keeps / and : in unquoted argument values (NQNs, paths)", () => {
    const [st] = parse("/disk add nvme-tcp-server-nqn=nqn.2000-02.com.mikrotik:pvc-x file-path=pool/a/b.img");
    expect(st?.named.map((a) => [a.name, a.value.k === "word" ? a.value.text : ""])).toEqual([
      ["nvme-tcp-server-nqn", "nqn.2000-02.com.mikrotik:pvc-x"],
      ["file-path", "pool/a/b.img"],
    ]);
  });

  it("takes the unnamed first argument as numbers: name, number, *id, list, [find]", () => {
    for (const arg of ["pvc-1", "0", "*1A", "0,1", "[find where slot=x]", "[find slot=x]", "numbers=pvc-1"]) {
      const [st] = parse(`/disk remove ${arg}`);
      expect(st?.named[0]?.name).toBe("numbers");
    }
  });

  it("marks unquoted where operands with / or : (they match nothing, §1.6e)", () => {
    const [st] = parse("/file print where name=pool/x.img");
    expect(st?.where).toMatchObject({ k: "cmp", key: "name", op: "=", opaque: true });
    const [quoted] = parse('/file print where name="pool/x.img"');
    expect(quoted?.where).toMatchObject({ k: "cmp", opaque: false });
  });

  it("parses and/or/!/parentheses/juxtaposition with and binding tighter than or", () => {
    const [st] = parse(
      '/disk print where slot~"^pvc-" and !disabled or (comment && nvme-tcp-export=yes) slot="x"',
    );
    expect(st?.where).toMatchObject({
      k: "or",
      a: {
        k: "and",
        a: { k: "cmp", key: "slot", op: "~" },
        b: { k: "not", e: { k: "cmp", key: "disabled" } },
      },
      b: { k: "and", a: { k: "and" }, b: { k: "cmp", key: "slot", op: "=" } },
    });
  });
});

describe("error texts and columns", () => {
  it("unknown command → bad command name with the column of the word", () => {
    expect(errorOf("test")).toBe("bad command name test (line 1 column 1)");
    expect(errorOf("/disk ad")).toBe("bad command name ad (line 1 column 7)");
    expect(errorOf("/disk/bogus x=1")).toBe("bad command name bogus (line 1 column 7)");
    expect(errorOf(':put "a"; /nope')).toBe("bad command name nope (line 1 column 12)");
  });

  it("unknown argument → expected end of command at the argument (documented column 24)", () => {
    expect(errorOf("/system/resource/print bogus=1")).toBe("expected end of command (line 1 column 24)");
    expect(errorOf("/disk print detail extra")).toBe("expected end of command (line 1 column 20)");
    expect(errorOf("/disk remove a b")).toBe("expected end of command (line 1 column 16)");
  });

  it("a bare key= mid-line → expected end of command at the next token; at the end it is empty", () => {
    expect(errorOf("/disk set x comment= slot=y")).toBe("expected end of command (line 1 column 22)");
    const [st] = parse("/disk set x comment=");
    expect(st?.named.find((a) => a.name === "comment")?.value).toMatchObject({ k: "word", text: "" });
  });

  it("malformed input → syntax error at the offending character", () => {
    expect(errorOf('/disk set x comment="open')).toBe("syntax error (line 1 column 21)");
    expect(errorOf('/disk set x comment="a\\qb"')).toBe("syntax error (line 1 column 23)");
    expect(errorOf("/disk set x comment=a$b")).toBe("syntax error (line 1 column 22)");
    expect(errorOf("/disk print where")).toBe("syntax error (line 1 column 18)");
    expect(errorOf("/disk print where bogus=1")).toBe("syntax error (line 1 column 19)");
    expect(errorOf("/disk remove [find slot=x")).toBe("syntax error (line 1 column 26)");
  });

  it("refuses multi-line input (not supported over exec)", () => {
    expect(errorOf("/disk print\n/system reset")).toBe("syntax error (line 1 column 12)");
  });
});
