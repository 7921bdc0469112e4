package main

// Subset mirrors of the CDI (cdi.kubevirt.io/v1beta1) and KubeVirt (kubevirt.io/v1) kinds that the
// deploy files and examples use. The real Go API modules (kubevirt.io/containerized-data-importer-api,
// kubevirt.io/api) are not served by the Go module proxy this CI reaches, so these structs repeat the field
// names and JSON tags of those modules' types.go (CDI: pkg/apis/core/v1beta1/types.go; KubeVirt:
// core/v1/types.go, schema.go) for the fields we use, and nest the real k8s.io/api types where those APIs
// do. Decoding is strict, so a misspelt or invented field fails; a legitimate field that is simply not
// mirrored here also fails, and must be added here with its upstream tag before an example may use it.

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ---- CDI ----------------------------------------------------------------------------------------------

type StorageProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              StorageProfileSpec `json:"spec"`
}

type StorageProfileSpec struct {
	// "copy", "snapshot" or "csi-clone" (CDICloneStrategy).
	CloneStrategy *string `json:"cloneStrategy,omitempty"`
	// At most 8 (kubebuilder MaxItems).
	ClaimPropertySets []ClaimPropertySet `json:"claimPropertySets,omitempty"`
	// "pvc" or "snapshot" (DataImportCronSourceFormat).
	DataImportCronSourceFormat *string `json:"dataImportCronSourceFormat,omitempty"`
	SnapshotClass              *string `json:"snapshotClass,omitempty"`
}

type ClaimPropertySet struct {
	AccessModes []corev1.PersistentVolumeAccessMode `json:"accessModes"`
	VolumeMode  *corev1.PersistentVolumeMode        `json:"volumeMode"`
}

type DataVolume struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              DataVolumeSpec `json:"spec"`
}

type DataVolumeSpec struct {
	Source        *DataVolumeSource                 `json:"source,omitempty"`
	PVC           *corev1.PersistentVolumeClaimSpec `json:"pvc,omitempty"`
	Storage       *StorageSpec                      `json:"storage,omitempty"`
	ContentType   string                            `json:"contentType,omitempty"`
	Preallocation *bool                             `json:"preallocation,omitempty"`
}

type DataVolumeSource struct {
	HTTP     *DataVolumeSourceHTTP     `json:"http,omitempty"`
	Registry *DataVolumeSourceRegistry `json:"registry,omitempty"`
	PVC      *DataVolumeSourcePVC      `json:"pvc,omitempty"`
	Blank    *struct{}                 `json:"blank,omitempty"`
	Upload   *struct{}                 `json:"upload,omitempty"`
}

type DataVolumeSourceHTTP struct {
	URL           string `json:"url"`
	SecretRef     string `json:"secretRef,omitempty"`
	CertConfigMap string `json:"certConfigMap,omitempty"`
}

type DataVolumeSourceRegistry struct {
	URL        *string `json:"url,omitempty"`
	PullMethod *string `json:"pullMethod,omitempty"`
}

type DataVolumeSourcePVC struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

type StorageSpec struct {
	AccessModes      []corev1.PersistentVolumeAccessMode `json:"accessModes,omitempty"`
	Resources        corev1.VolumeResourceRequirements   `json:"resources,omitempty"`
	StorageClassName *string                             `json:"storageClassName,omitempty"`
	VolumeMode       *corev1.PersistentVolumeMode        `json:"volumeMode,omitempty"`
}

// ---- KubeVirt -----------------------------------------------------------------------------------------

type VirtualMachine struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              VirtualMachineSpec `json:"spec"`
}

type VirtualMachineSpec struct {
	// Always, RerunOnFailure, Manual, Halted, Once.
	RunStrategy         *string                             `json:"runStrategy,omitempty"`
	Template            *VirtualMachineInstanceTemplateSpec `json:"template"`
	DataVolumeTemplates []DataVolumeTemplateSpec            `json:"dataVolumeTemplates,omitempty"`
}

type DataVolumeTemplateSpec struct {
	metav1.TypeMeta `json:",inline"`
	ObjectMeta      metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec            DataVolumeSpec    `json:"spec"`
}

type VirtualMachineInstanceTemplateSpec struct {
	ObjectMeta metav1.ObjectMeta          `json:"metadata,omitempty"`
	Spec       VirtualMachineInstanceSpec `json:"spec,omitempty"`
}

type VirtualMachineInstanceSpec struct {
	Domain                        DomainSpec `json:"domain"`
	EvictionStrategy              *string    `json:"evictionStrategy,omitempty"` // LiveMigrate, LiveMigrateIfPossible, None, External
	TerminationGracePeriodSeconds *int64     `json:"terminationGracePeriodSeconds,omitempty"`
	Volumes                       []Volume   `json:"volumes,omitempty"`
	Networks                      []Network  `json:"networks,omitempty"`
}

type DomainSpec struct {
	Resources ResourceRequirements `json:"resources,omitempty"`
	CPU       *CPU                 `json:"cpu,omitempty"`
	Memory    *Memory              `json:"memory,omitempty"`
	Devices   Devices              `json:"devices"`
}

type ResourceRequirements struct {
	Requests corev1.ResourceList `json:"requests,omitempty"`
	Limits   corev1.ResourceList `json:"limits,omitempty"`
}

type CPU struct {
	Cores   uint32 `json:"cores,omitempty"`
	Sockets uint32 `json:"sockets,omitempty"`
	Threads uint32 `json:"threads,omitempty"`
}

type Memory struct {
	Guest *resource.Quantity `json:"guest,omitempty"`
}

type Devices struct {
	Disks      []Disk      `json:"disks,omitempty"`
	Interfaces []Interface `json:"interfaces,omitempty"`
}

type Disk struct {
	Name      string      `json:"name"`
	Disk      *DiskTarget `json:"disk,omitempty"`
	BootOrder *uint       `json:"bootOrder,omitempty"`
	Cache     string      `json:"cache,omitempty"` // none, writethrough, writeback
	IO        string      `json:"io,omitempty"`    // native, threads
}

type DiskTarget struct {
	Bus string `json:"bus,omitempty"` // virtio, sata, scsi
}

type Interface struct {
	Name       string    `json:"name"`
	Masquerade *struct{} `json:"masquerade,omitempty"`
	Bridge     *struct{} `json:"bridge,omitempty"`
}

type Network struct {
	Name string    `json:"name"`
	Pod  *struct{} `json:"pod,omitempty"`
}

type Volume struct {
	Name                  string                     `json:"name"`
	DataVolume            *DataVolumeVolumeSource    `json:"dataVolume,omitempty"`
	PersistentVolumeClaim *PersistentVolumeClaimVSrc `json:"persistentVolumeClaim,omitempty"`
	CloudInitNoCloud      *CloudInitNoCloudSource    `json:"cloudInitNoCloud,omitempty"`
	ContainerDisk         *ContainerDiskSource       `json:"containerDisk,omitempty"`
}

type DataVolumeVolumeSource struct {
	Name         string `json:"name"`
	Hotpluggable bool   `json:"hotpluggable,omitempty"`
}

type PersistentVolumeClaimVSrc struct {
	ClaimName    string `json:"claimName"`
	ReadOnly     bool   `json:"readOnly,omitempty"`
	Hotpluggable bool   `json:"hotpluggable,omitempty"`
}

type CloudInitNoCloudSource struct {
	UserData       string `json:"userData,omitempty"`
	UserDataBase64 string `json:"userDataBase64,omitempty"`
	NetworkData    string `json:"networkData,omitempty"`
}

type ContainerDiskSource struct {
	Image string `json:"image"`
}
