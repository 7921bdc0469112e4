import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  quote,
  RosCommand,
  renderValue,
  val,
  validateComment,
  validateFilePath,
  validateHostNqns,
  validateNqn,
  validatePathPrefix,
  validateSlot,
  withSentinel,
} from "../../src/rds/command.ts";
import { readQuoted } from "../../src/rds/parse/values.ts";
import { checkResult, classifyError } from "../../src/rds/result.ts";
import { RdsError } from "../../src/rds/types.ts";

const INJECTIONS = [
  'x"; /system reboot; :put "',
  "a;b",
  "a[b",
  "a]b",
  "$(x)",
  "a\\b",
  "a\nb",
  "a\rb",
  "a\u0000b",
  "a\tb",
  "{x}",
  "é",
  "A".repeat(10_000),
];

const refused = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof RdsError && e.kind === "invalid";
  }
  return false;
};

describe("quoting", () => {
  it('escapes " \\ $ inside double quotes and leaves plain tokens bare', () => {
    expect(renderValue("pvc-1.a_b")).toBe("pvc-1.a_b");
    expect(renderValue("storage-pool/k8s/x.img")).toBe('"storage-pool/k8s/x.img"');
    expect(renderValue("nqn.2026-01.com.x:pvc-1")).toBe('"nqn.2026-01.com.x:pvc-1"');
    expect(renderValue("")).toBe('""');
    expect(renderValue("a b")).toBe('"a b"');
    expect(quote('say "hi" \\ $HOME')).toBe('"say \\"hi\\" \\\\ \\$HOME"');
  });

  it("refuses control characters, newlines, NUL, non-ASCII and ; [ ] { } even when asked to quote", () => {
    for (const bad of ["a\nb", "a\u0000b", "a\u007fb", "é", "a;b", "a[b", "a]b", "a{b"])
      expect(refused(() => quote(bad))).toBe(true);
  });

  it("property: what we quote reads back to the same string with RouterOS unescaping", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[\x20-\x7e]*$/).filter((s) => !/[;[\]{}]/.test(s)),
        (s) => {
          const q = quote(s);
          expect(readQuoted(q, 0)).toEqual({ value: s, end: q.length });
        },
      ),
    );
  });
});

describe("validators", () => {
  it("slots: [a-z0-9][a-z0-9.-]{0,62}", () => {
    for (const ok of ["pvc-0f923194-922a-5dd8-b376-c2c6ccb56dd8", "a", "0", "snap.1-x", "a".repeat(63)])
      expect(validateSlot(ok)).toBe(ok);
    for (const bad of ["", "-a", ".a", "A", "a_b", "a/b", "a b", "a".repeat(64), ...INJECTIONS])
      expect(refused(() => validateSlot(bad))).toBe(true);
  });

  it("file paths: relative, no `..`, no `//`, safe charset, ≤ 255", () => {
    expect(validateFilePath("storage-pool/k8s/pvc-1.img")).toBe("storage-pool/k8s/pvc-1.img");
    for (const bad of [
      "",
      "/abs/x",
      "a/",
      "a//b",
      "a/../b",
      "..",
      "a/./b",
      "a b",
      "a/b:c",
      `a/${"b".repeat(255)}`,
      ...INJECTIONS,
    ]) {
      expect(refused(() => validateFilePath(bad))).toBe(true);
    }
    expect(validatePathPrefix("")).toBe("");
    expect(validatePathPrefix("storage-pool/k8s/")).toBe("storage-pool/k8s/");
    expect(validatePathPrefix("storage-pool/k8s/pvc-")).toBe("storage-pool/k8s/pvc-");
    expect(refused(() => validatePathPrefix("a//"))).toBe(true);
  });

  it("NQNs: NVMe form, ≤ 223 bytes; host lists", () => {
    expect(validateNqn("nqn.2014-08.org.nvmexpress:uuid:0c4f1f76-1111-4e0d-9a3c-000000000001")).toBeTruthy();
    expect(validateNqn("nqn.2026-01.com.mikrotik.rds-csi:pvc-1")).toBeTruthy();
    const long = `nqn.2026-01.com.x:${"a".repeat(223 - 18)}`;
    expect(long.length).toBe(223);
    expect(validateNqn(long)).toBe(long);
    for (const bad of [
      "",
      "nqn.2026-13.com.x:a",
      "nqn.26-01.com.x:a",
      "nqn.2026-01.com.x",
      "nqn.2026-01.-com:a",
      "iqn.2026-01.com.x:a",
      `${long}b`,
      ...INJECTIONS,
    ]) {
      expect(refused(() => validateNqn(bad))).toBe(true);
    }
    expect(validateHostNqns([])).toEqual([]);
    expect(refused(() => validateHostNqns(["nqn.2026-01.com.x:a", "nqn.2026-01.com.x:a"]))).toBe(true);
    expect(refused(() => validateHostNqns(["nqn.2026-01.com.x:a,nqn.2026-01.com.x:b"]))).toBe(true);
  });

  it("comments: [A-Za-z0-9._:/+=@ -], single inner spaces, ≤ 1024", () => {
    for (const ok of ["", "rds-csi:1:eyJuIjoicHZjIn0", "made by ops@example.com for a/b=c+d"])
      expect(validateComment(ok)).toBe(ok);
    for (const bad of [" a", "a ", "a  b", 'a"b', "a'b", "a#b", "x".repeat(1025), ...INJECTIONS])
      expect(refused(() => validateComment(bad))).toBe(true);
  });

  it("sizes are exact integers and ports 1..65535", () => {
    expect(val.bytes(1073741825).cli).toBe("1073741825");
    expect(val.bytes(2 ** 53 - 1).cli).toBe("9007199254740991");
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, "1G" as unknown as number])
      expect(refused(() => val.bytes(bad))).toBe(true);
    expect(val.port(4420).cli).toBe("4420");
    for (const bad of [0, 65536, 44.2]) expect(refused(() => val.port(bad))).toBe(true);
  });
});

describe("commands", () => {
  it("builds add, set, remove and print lines from validated values, with the sentinel", () => {
    const add = new RosCommand("/disk", "add")
      .arg("type", val.literal("file"))
      .arg("slot", val.slot("pvc-1"))
      .arg("file-path", val.filePath("storage-pool/k8s/pvc-1.img"))
      .arg("file-size", val.bytes(1073741825))
      .arg("comment", undefined)
      .arg("nvme-tcp-server-nqn", val.nqn("nqn.2026-01.com.x:pvc-1"));
    expect(withSentinel(add)).toBe(
      '/disk add type=file slot=pvc-1 file-path="storage-pool/k8s/pvc-1.img" file-size=1073741825 nvme-tcp-server-nqn="nqn.2026-01.com.x:pvc-1"; :put "__RDS_OK__"',
    );
    const set = new RosCommand("/disk", "set")
      .findWhere("slot", val.quoted(validateSlot("pvc-1")))
      .arg("nvme-tcp-export", val.bool(false));
    expect(set.render()).toBe('/disk set [find where slot="pvc-1"] nvme-tcp-export=no');
    const list = new RosCommand("/file", "print")
      .option("detail")
      .where("name", val.prefixRegex("storage-pool/k8s/a.b"), "~");
    expect(list.render()).toBe('/file print detail where name~"^storage-pool/k8s/a\\\\.b"');
    expect(list.verb).toBe("/file print");
  });

  it("refuses bad keys and menus (programming errors)", () => {
    expect(() => new RosCommand("/disk;", "add")).toThrow();
    expect(() => new RosCommand("/disk", "add").arg("a=b", val.bool(true))).toThrow();
  });
});

describe("results", () => {
  const ok = (stdout: string, stderr = "", code: number | null = 0) => ({ stdout, stderr, code });

  it("success needs the sentinel, a clean stderr and exit 0; mutations must print nothing else", () => {
    expect(checkResult(ok("__RDS_OK__\r\n"), "c", { mutation: true })).toBe("");
    expect(checkResult(ok("0 name=x\r\n__RDS_OK__\r\n\r\n"), "c", { mutation: false })).toBe("0 name=x");
    expect(checkResult(ok("__RDS_OK__\r\n", "", null), "c", { mutation: true })).toBe("");
    const fails = (r: ReturnType<typeof ok>, mutation = true) => {
      try {
        checkResult(r, "cmd", { mutation });
      } catch (e) {
        return (e as RdsError).kind;
      }
      return "ok";
    };
    expect(fails(ok(""))).toBe("failure"); // exit 0 and silence is not success
    expect(fails(ok("warning: something\r\n__RDS_OK__\r\n"))).toBe("failure");
    expect(fails(ok("__RDS_OK__\r\n", "", 1))).toBe("failure");
    expect(fails(ok("__RDS_OK__\r\n", "no such item\r\n"))).toBe("not-found");
    expect(fails(ok("failure: not enough space\r\n"))).toBe("no-space");
    expect(fails(ok("", "failure: not enough space\r\n", 1))).toBe("no-space");
    expect(fails(ok("expected end of command (line 1 column 24)\r\n"), false)).toBe("invalid");
  });

  it("classifies RouterOS error texts (docs/routeros.md §2.3 and the simulator's failures)", () => {
    const table: Array<[string, string]> = [
      ["no such item", "not-found"],
      ["failure: file does not exist", "not-found"],
      ["failure: not enough space", "no-space"],
      ["failure: already have disk with such slot", "exists"],
      ["failure: already have such entry", "exists"],
      ["not enough permissions (9)", "permission"],
      ["bad command name ad (line 1 column 6)", "invalid"],
      ["expected end of command (line 1 column 24)", "invalid"],
      ["syntax error (line 1 column 7)", "invalid"],
      ["invalid value for argument file-size", "invalid"],
      ["input does not match any value of type", "invalid"],
      ["expected item id (line 1 column 12)", "invalid"],
      ["failure: contents too long", "failure"],
      ["something nobody has seen", "failure"],
    ];
    for (const [text, kind] of table) expect([text, classifyError(text)]).toEqual([text, kind]);
  });
});
