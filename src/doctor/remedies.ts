// Distribution-specific fixes. The same problem ("nvme_tcp is missing") has a different cure on Ubuntu
// (an extra modules package), RHEL (a kernel subpackage), Talos (machine config), NixOS (a module list)
// or a kernel built without the driver (another kernel). The doctor names the one for the host it sees
// and keeps the others short.
import type { OsRelease } from "./host.ts";

export type Family =
  | "debian"
  | "ubuntu"
  | "rhel"
  | "suse"
  | "talos"
  | "nixos"
  | "flatcar"
  | "coreos"
  | "alpine"
  | "other";

export function familyOf(os: OsRelease | undefined): Family {
  if (!os) return "other";
  const ids = [os.id, ...os.idLike];
  if (os.id === "talos") return "talos";
  if (os.id === "nixos") return "nixos";
  if (os.id === "flatcar") return "flatcar";
  if (os.id === "rhcos" || os.id === "scos" || os.variantId === "coreos") return "coreos";
  if (os.id === "ubuntu") return "ubuntu";
  if (ids.includes("debian")) return "debian";
  if (ids.some((i) => ["rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn"].includes(i)))
    return "rhel";
  if (ids.some((i) => i.includes("suse"))) return "suse";
  if (os.id === "alpine") return "alpine";
  return "other";
}

const PERSIST =
  "make it persistent with `echo -e 'nvme_fabrics\\nnvme_tcp' > /etc/modules-load.d/nvme-tcp.conf`";

/** The module exists for this kernel but is not loaded. */
export function loadModuleFix(family: Family): string {
  switch (family) {
    case "talos":
      return "add `machine.kernel.modules: [{name: nvme_tcp}]` to the machine config (talosctl patch machineconfig) and reboot or apply";
    case "nixos":
      return 'add `boot.kernelModules = [ "nvme-tcp" ];` to configuration.nix and run nixos-rebuild switch';
    case "coreos":
      return "ship /etc/modules-load.d/nvme-tcp.conf containing `nvme_tcp` with a MachineConfig (OpenShift) or Butane/Ignition config";
    default:
      return `run \`modprobe nvme_tcp\` on the host and ${PERSIST}`;
  }
}

/** The kernel was built with the module (=m) but its file is not installed. */
export function installModuleFix(family: Family): string {
  switch (family) {
    case "ubuntu":
      return "`apt install linux-modules-extra-$(uname -r)` (Ubuntu cloud/virtual kernels keep nvme-tcp there), then `modprobe nvme_tcp`";
    case "debian":
      return "install the modules of the running kernel (`apt install --reinstall linux-image-$(uname -r)`), then `modprobe nvme_tcp`";
    case "rhel":
      return "`dnf install kernel-modules-core-$(uname -r) kernel-modules-$(uname -r)` (whichever your release has), then `modprobe nvme_tcp`";
    case "suse":
      return "`zypper install kernel-default` matching the running kernel (nvme-tcp is in the main kernel package), then `modprobe nvme_tcp`";
    case "talos":
      return "use a Talos image whose kernel has nvme_tcp (Image Factory) and load it with `machine.kernel.modules: [{name: nvme_tcp}]`";
    case "nixos":
      return 'add `boot.kernelModules = [ "nvme-tcp" ];` (the module is part of the NixOS kernel) and run nixos-rebuild switch';
    default:
      return "install the kernel modules package of the running kernel, then `modprobe nvme_tcp`";
  }
}

/** The running kernel cannot have the module at all (built without it, or without module support). */
export function otherKernelFix(family: Family, symbol: string): string {
  const generic = `boot a kernel built with ${symbol}=m or =y (every mainstream distribution kernel since 5.0 has it)`;
  switch (family) {
    case "talos":
      return `${generic}; on Talos use an official or Image Factory image`;
    case "nixos":
      return `${generic}; on NixOS choose a standard boot.kernelPackages and add boot.kernelModules = [ "nvme-tcp" ]`;
    case "ubuntu":
      return `${generic}; on Ubuntu install linux-generic (and linux-modules-extra-$(uname -r) for cloud kernels)`;
    default:
      return generic;
  }
}

const PACKAGES: Record<string, { apt: string; dnf: string; nix: string; apk: string }> = {
  nvme: { apt: "nvme-cli", dnf: "nvme-cli", nix: "nvme-cli", apk: "nvme-cli" },
  e2fs: { apt: "e2fsprogs", dnf: "e2fsprogs", nix: "e2fsprogs", apk: "e2fsprogs e2fsprogs-extra" },
  xfs: { apt: "xfsprogs", dnf: "xfsprogs", nix: "xfsprogs", apk: "xfsprogs xfsprogs-extra" },
  "util-linux": { apt: "util-linux mount", dnf: "util-linux", nix: "util-linux", apk: "util-linux" },
  bash: { apt: "bash", dnf: "bash", nix: "bash", apk: "bash" },
};

/** How to install the package that provides a tool, where the doctor runs. */
export function installToolFix(family: Family, pkg: keyof typeof PACKAGES): string {
  const p = PACKAGES[pkg]!;
  switch (family) {
    case "debian":
    case "ubuntu":
      return `apt install ${p.apt}`;
    case "rhel":
    case "coreos":
      return `dnf install ${p.dnf}`;
    case "suse":
      return `zypper install ${p.dnf}`;
    case "alpine":
      return `apk add ${p.apk}`;
    case "nixos":
      return `add pkgs.${p.nix} to environment.systemPackages`;
    case "talos":
      return "Talos hosts have no package manager: the tools must come from the rds-csi node plugin image";
    default:
      return `install ${p.apt} (package name on Debian; similar elsewhere)`;
  }
}

export type ToolPackage = keyof typeof PACKAGES;
