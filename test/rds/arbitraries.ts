// fast-check generators for RDS records, shared by the parser and client tests.
import fc from "fast-check";
import { validateComment } from "../../src/rds/command.ts";
import type { FileDisk, Pool } from "../../src/rds/types.ts";

export const slotArb = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,62}$/);

const componentArb = fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/).filter((c) => c !== "." && c !== "..");

/** `/file` names without a leading slash, up to about 200 characters. */
export const filePathArb = fc
  .array(componentArb, { minLength: 2, maxLength: 6 })
  .map((parts) => parts.join("/"))
  .filter((p) => p.length <= 200);

export const nqnArb = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9]{1,12}(\.[a-z0-9]{1,12}){0,3}$/),
    fc.stringMatching(/^[A-Za-z0-9._:-]{1,120}$/),
  )
  .map(([domain, name]) => `nqn.2026-09.${domain}:${name}`);

/** Comments in the validated charset, including long base64url-looking ones like the controller writes. */
export const commentArb = fc.oneof(
  fc.constant(""),
  fc.stringMatching(/^[A-Za-z0-9._:/+=@ -]{1,200}$/).filter((c) => {
    try {
      validateComment(c);
      return true;
    } catch {
      return false;
    }
  }),
  fc.stringMatching(/^[A-Za-z0-9_-]{20,600}$/).map((b) => `rds-csi.v1:${b.replaceAll("_", "-")}`),
);

export const fileDiskArb: fc.Arbitrary<FileDisk> = fc
  .record({
    slot: slotArb,
    filePath: filePathArb,
    sizeBytes: fc.integer({ min: 1, max: 2 ** 50 }),
    nvmeExport: fc.boolean(),
    nvmePort: fc.integer({ min: 1, max: 65535 }),
    nqn: nqnArb,
    allowedHosts: fc.array(nqnArb, { maxLength: 3 }),
    comment: commentArb,
    disabled: fc.boolean(),
  })
  .map((d) => {
    const disk: FileDisk = {
      id: "",
      slot: d.slot,
      filePath: d.filePath,
      sizeBytes: d.sizeBytes,
      nvmeExport: d.nvmeExport,
      allowedHosts: d.nvmeExport ? d.allowedHosts : [],
      comment: d.comment,
      disabled: d.disabled,
    };
    if (d.nvmeExport) {
      disk.nvmePort = d.nvmePort;
      disk.nqn = d.nqn;
    }
    return disk;
  });

export const poolArb: fc.Arbitrary<Pool> = fc
  .record({
    slot: slotArb,
    mountPoint: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/),
    fs: fc.constantFrom("xfs", "btrfs", "ext4"),
    sizeBytes: fc.integer({ min: 1, max: 2 ** 50 }),
  })
  .chain((p) => fc.integer({ min: 0, max: p.sizeBytes }).map((free) => ({ ...p, freeBytes: free })));
