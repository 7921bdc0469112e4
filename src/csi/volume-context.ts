// Keys the controller puts in publish_context (ControllerPublishVolume) and volume_context
// (CreateVolume), read by the node. Connection facts travel in publish_context, recomputed at every
// attach, so changing the RDS address does not strand existing PVs (volume_context is immutable in a PV).

export const PublishKey = {
  /** Subsystem NQN of the export. */
  nqn: "rds.csi/nqn",
  /** NVMe/TCP target address and port. */
  address: "rds.csi/address",
  port: "rds.csi/port",
  /** Backing file as RouterOS names it (no leading slash): what the loop transport attaches. */
  filePath: "rds.csi/file-path",
  /** nvme connect tuning, decimal strings. */
  ctrlLossTmo: "rds.csi/ctrl-loss-tmo",
  reconnectDelay: "rds.csi/reconnect-delay",
  keepAliveTmo: "rds.csi/keep-alive-tmo",
  nrIoQueues: "rds.csi/nr-io-queues",
} as const;

export const VolumeContextKey = {
  /** Extra mkfs options from the StorageClass (`mkfsOptions`), space separated, validated by the controller. */
  mkfsOptions: "mkfsOptions",
  /** The CSI name the volume was created for. */
  name: "rds.csi/name",
} as const;

/** StorageClass parameters the driver understands (everything else is refused with INVALID_ARGUMENT). */
export const StorageClassParam = {
  volumePath: "volumePath",
  nvmeAddress: "nvmeAddress",
  nvmePort: "nvmePort",
  ctrlLossTmo: "ctrlLossTmo",
  reconnectDelay: "reconnectDelay",
  keepAliveTmo: "keepAliveTmo",
  nrIoQueues: "nrIoQueues",
  mkfsOptions: "mkfsOptions",
  /** How volumes of the class are snapshotted and cloned: auto | file-copy | btrfs-subvolume (docs/snapshots.md). */
  snapshotMethod: "snapshotMethod",
} as const;
