// Volume paths as the StorageClass and the flags give them (`<pool>/<dir>`), in the form RouterOS names
// files. Its own module because both the parameter parser and the image layout need it.

/** `/storage-pool/k8s/` → `storage-pool/k8s` (RouterOS /file names have no leading slash). */
export function normalizeVolumePath(path: string): string {
  return path.replace(/^\/+/, "").replace(/\/+$/, "");
}

/** The pool (mount point) a `<pool>/<dir...>` path or a file below it is on. */
export function poolOf(volumePath: string): string {
  return normalizeVolumePath(volumePath).split("/")[0]!;
}
