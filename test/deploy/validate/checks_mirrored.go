package main

// Value checks for the mirrored CDI/KubeVirt kinds (kubevirt_types.go): decoding them strictly proves the
// field names; the enums and cross-references below are what their CRD schemas and webhooks would refuse.

import corev1 "k8s.io/api/core/v1"

var (
	cloneStrategies    = []string{"copy", "snapshot", "csi-clone"}
	cronSourceFormats  = []string{"pvc", "snapshot"}
	runStrategies      = []string{"Always", "RerunOnFailure", "Manual", "Halted", "Once", "WaitAsReceiver"}
	evictionStrategies = []string{"LiveMigrate", "LiveMigrateIfPossible", "None", "External"}
	diskBuses          = []string{"virtio", "sata", "scsi", "usb"}
	diskCaches         = []string{"", "none", "writethrough", "writeback"}
	accessModes        = []string{"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"}
	volumeModes        = []string{"Block", "Filesystem"}
)

func checkEnum(o *Object, p *Problems, field, value string, allowed []string) {
	if !contains(allowed, value) {
		p.add(o, "%s %q is not one of %v", field, value, allowed)
	}
}

func checkAccess(o *Object, p *Problems, field string, modes []corev1.PersistentVolumeAccessMode, mode *corev1.PersistentVolumeMode) {
	for _, m := range modes {
		checkEnum(o, p, field+".accessModes[]", string(m), accessModes)
	}
	if mode != nil {
		checkEnum(o, p, field+".volumeMode", string(*mode), volumeModes)
	}
}

func checkMirrored(objs []*Object, p *Problems) {
	dataVolumes := map[string]bool{}
	for _, o := range objs {
		if _, ok := o.Typed.(*DataVolume); ok {
			dataVolumes[o.NS+"/"+o.Name] = true
		}
	}
	for _, o := range objs {
		switch t := o.Typed.(type) {
		case *StorageProfile:
			s := t.Spec
			if s.CloneStrategy != nil {
				checkEnum(o, p, "spec.cloneStrategy", *s.CloneStrategy, cloneStrategies)
			}
			if s.DataImportCronSourceFormat != nil {
				checkEnum(o, p, "spec.dataImportCronSourceFormat", *s.DataImportCronSourceFormat, cronSourceFormats)
			}
			if len(s.ClaimPropertySets) > 8 {
				p.add(o, "spec.claimPropertySets has more than 8 entries")
			}
			for _, cps := range s.ClaimPropertySets {
				if len(cps.AccessModes) == 0 || cps.VolumeMode == nil {
					p.add(o, "every claimPropertySet needs accessModes and volumeMode")
				}
				checkAccess(o, p, "spec.claimPropertySets[]", cps.AccessModes, cps.VolumeMode)
			}
		case *DataVolume:
			checkDataVolumeSpec(o, p, &t.Spec)
		case *VirtualMachine:
			s := t.Spec
			if s.RunStrategy != nil {
				checkEnum(o, p, "spec.runStrategy", *s.RunStrategy, runStrategies)
			}
			for i := range s.DataVolumeTemplates {
				checkDataVolumeSpec(o, p, &s.DataVolumeTemplates[i].Spec)
				dataVolumes[o.NS+"/"+s.DataVolumeTemplates[i].ObjectMeta.Name] = true
			}
			if s.Template == nil {
				p.add(o, "spec.template is required")
				continue
			}
			vmi := s.Template.Spec
			if vmi.EvictionStrategy != nil {
				checkEnum(o, p, "evictionStrategy", *vmi.EvictionStrategy, evictionStrategies)
			}
			volumes := map[string]bool{}
			for _, v := range vmi.Volumes {
				volumes[v.Name] = true
				if v.DataVolume != nil && !dataVolumes[o.NS+"/"+v.DataVolume.Name] {
					p.add(o, "volume %s uses DataVolume %q, which is neither in this file nor a dataVolumeTemplate", v.Name, v.DataVolume.Name)
				}
			}
			for _, d := range vmi.Domain.Devices.Disks {
				if !volumes[d.Name] {
					p.add(o, "disk %s has no volume of the same name", d.Name)
				}
				if d.Disk != nil {
					checkEnum(o, p, "disk.bus", d.Disk.Bus, diskBuses)
				}
				checkEnum(o, p, "disk.cache", d.Cache, diskCaches)
			}
			networks := map[string]bool{}
			for _, n := range vmi.Networks {
				networks[n.Name] = true
			}
			for _, i := range vmi.Domain.Devices.Interfaces {
				if !networks[i.Name] {
					p.add(o, "interface %s has no network of the same name", i.Name)
				}
			}
		}
	}
}

func checkDataVolumeSpec(o *Object, p *Problems, s *DataVolumeSpec) {
	if (s.PVC == nil) == (s.Storage == nil) {
		p.add(o, "a DataVolume needs exactly one of spec.pvc and spec.storage")
	}
	if s.Storage != nil {
		checkAccess(o, p, "spec.storage", s.Storage.AccessModes, s.Storage.VolumeMode)
		if _, ok := s.Storage.Resources.Requests[corev1.ResourceStorage]; !ok {
			p.add(o, "spec.storage.resources.requests.storage is required")
		}
	}
	if s.Source == nil {
		p.add(o, "spec.source is required here")
	}
}
