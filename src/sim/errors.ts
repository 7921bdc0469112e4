// RouterOS error texts (docs/routeros.md §2.3). Parse errors stop the whole line before anything runs;
// runtime errors stop it at the failing command (earlier commands keep their effects and output).

export class CliError extends Error {
  /** True for errors found while parsing the line (nothing ran); false for runtime errors. */
  readonly parse: boolean;
  constructor(message: string, parse: boolean) {
    super(message);
    this.name = "CliError";
    this.parse = parse;
  }
}

const at = (col: number): string => `(line 1 column ${col})`;

export const badCommandName = (name: string, col: number): CliError =>
  new CliError(`bad command name ${name} ${at(col)}`, true);
export const expectedEndOfCommand = (col: number): CliError =>
  new CliError(`expected end of command ${at(col)}`, true);
export const syntaxError = (col: number): CliError => new CliError(`syntax error ${at(col)}`, true);

export const noSuchItem = (): CliError => new CliError("no such item", false);
export const invalidValue = (arg: string): CliError =>
  new CliError(`invalid value for argument ${arg}`, false);
export const noMatchingValue = (arg: string): CliError =>
  new CliError(`input does not match any value of ${arg}`, false);
/** `failure: <reason>`: the shape of every execution failure. */
export const failure = (reason: string): CliError => new CliError(`failure: ${reason}`, false);

/**
 * Texts the simulator chose where RouterOS's own wording is undocumented (§2.3, §10 q2). The driver must
 * classify by these substrings: `not enough space`, `already have`, `no such item`, `failure:`.
 */
export const FAILURES = {
  notEnoughSpace: "not enough space",
  duplicateSlot: "already have disk with such slot",
  duplicateFilePath: "already have disk with such file-path",
  duplicateNqn: "already have disk with such nvme-tcp-server-nqn",
  filePathRequired: "file-path must be specified",
  fileMissing: "file does not exist",
  parentMissing: "parent directory does not exist",
  notOnDisk: "file-path must be on a mounted disk",
  invalidPath: "invalid file name",
  shrink: "file-size can not be decreased",
  smallerThanFile: "file-size is smaller than the existing file",
  onlyFileType: "only type=file disks can be added (simulator)",
  poolReadOnly: "can not change a disk that is not type=file (simulator)",
  fileExists: "already have such file or directory",
  fileInUse: "file is used by a disk, remove the disk first",
  dirNotEmpty: "directory is not empty",
  removeDisk: "can not remove a disk mount point",
  unsupported: "not supported by the simulator",
} as const;
