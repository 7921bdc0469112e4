package main

// rds-csi's own deployment invariants: how the driver, its sidecars and the Kubernetes objects must fit
// together for the driver to work. Several are exactly the bugs of the prior Go driver's manifests
// (docs: shared/docs/prior-art-rds-csi.md §6): a livenessprobe sidecar nobody probes, storageCapacity
// without --enable-capacity, key material in examples, no /lib/modules for modprobe.

import (
	"net"
	"path"
	"strconv"
	"strings"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Sidecar images by role (registry.k8s.io/sig-storage/<name>:<tag>).
func sidecarRole(image string) string {
	name := image
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexAny(name, ":@"); i >= 0 {
		name = name[:i]
	}
	switch name {
	case "csi-provisioner", "csi-attacher", "csi-resizer", "csi-snapshotter", "livenessprobe", "csi-node-driver-registrar":
		return name
	}
	return ""
}

// flag returns the value of --name=value (or whether a bare --name is present, as "true").
func flag(args []string, name string) (string, bool) {
	for _, a := range args {
		if a == "--"+name {
			return "true", true
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func driverContainer(spec *corev1.PodSpec) *corev1.Container {
	for i := range spec.Containers {
		c := &spec.Containers[i]
		if sidecarRole(c.Image) == "" && len(c.Args) > 0 && (c.Args[0] == "controller" || c.Args[0] == "node" || c.Args[0] == "all") {
			return c
		}
	}
	return nil
}

func volumeAt(spec *corev1.PodSpec, c *corev1.Container, dir string) (*corev1.Volume, *corev1.VolumeMount) {
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		if path.Clean(m.MountPath) == path.Clean(dir) {
			for j := range spec.Volumes {
				if spec.Volumes[j].Name == m.Name {
					return &spec.Volumes[j], m
				}
			}
		}
	}
	return nil, nil
}

func envFieldRef(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			return e.ValueFrom.FieldRef.FieldPath
		}
	}
	return ""
}

func envValue(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func isPrivileged(c *corev1.Container) bool {
	return c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
}

// listenAddr of the livenessprobe / registrar sidecar: host and port from --http-endpoint (or the
// deprecated --health-port, default 9808 for the livenessprobe).
func listenAddr(c *corev1.Container) (host string, port int, ok bool) {
	if v, has := flag(c.Args, "http-endpoint"); has {
		h, ps, err := net.SplitHostPort(v)
		if err != nil {
			return "", 0, false
		}
		n, err := strconv.Atoi(ps)
		return h, n, err == nil
	}
	if v, has := flag(c.Args, "health-port"); has {
		n, err := strconv.Atoi(v)
		return "", n, err == nil
	}
	if sidecarRole(c.Image) == "livenessprobe" {
		return "", 9808, true
	}
	return "", 0, false
}

// probeTarget resolves an httpGet probe to (host, port number) using the probed container's ports.
func probeTarget(c *corev1.Container, pr *corev1.Probe) (string, int, bool) {
	if pr == nil || pr.HTTPGet == nil {
		return "", 0, false
	}
	port := pr.HTTPGet.Port
	if port.Type == intstr.Int {
		return pr.HTTPGet.Host, port.IntValue(), true
	}
	for _, cp := range c.Ports {
		if cp.Name == port.StrVal {
			return pr.HTTPGet.Host, int(cp.ContainerPort), true
		}
	}
	return "", 0, false
}

func isLoopback(h string) bool { return h == "127.0.0.1" || h == "localhost" || h == "::1" }

func checkRdsCsi(objs []*Object, p *Problems) {
	var driver *Object
	var csiDriver *storagev1.CSIDriver
	for _, o := range objs {
		if d, ok := o.Typed.(*storagev1.CSIDriver); ok {
			if driver != nil {
				p.add(o, "more than one CSIDriver")
			}
			driver, csiDriver = o, d
		}
	}
	if driver == nil {
		*p = append(*p, "deployment: no CSIDriver object")
		return
	}
	d := csiDriver.Spec
	if d.AttachRequired == nil || !*d.AttachRequired {
		p.add(driver, "attachRequired must be true (ControllerPublish exports the volume to the node)")
	}
	if d.PodInfoOnMount == nil || !*d.PodInfoOnMount {
		p.add(driver, "podInfoOnMount must be true")
	}
	if d.FSGroupPolicy == nil || *d.FSGroupPolicy != storagev1.FileFSGroupPolicy {
		p.add(driver, "fsGroupPolicy must be File (the driver does not offer VOLUME_MOUNT_GROUP)")
	}
	capacity := d.StorageCapacity != nil && *d.StorageCapacity

	var controllers, nodes []PodOwner
	for _, w := range podOwners(objs) {
		dc := driverContainer(&w.Template.Spec)
		if dc == nil {
			p.add(w.Obj, "no rds-csi driver container (args starting with controller|node|all)")
			continue
		}
		if name, _ := flag(dc.Args, "driver-name"); name != driver.Name {
			p.add(w.Obj, "driver container --driver-name=%q differs from the CSIDriver %q", name, driver.Name)
		}
		switch dc.Args[0] {
		case "controller":
			controllers = append(controllers, w)
		case "node":
			nodes = append(nodes, w)
		}
	}
	if len(controllers) != 1 {
		*p = append(*p, "deployment: expected exactly one controller workload")
	}
	if len(nodes) != 1 {
		*p = append(*p, "deployment: expected exactly one node DaemonSet")
	}
	for _, w := range controllers {
		checkController(w, objs, capacity, p)
	}
	for _, w := range nodes {
		checkNode(w, objs, driver.Name, p)
	}
	if len(controllers) == 1 && len(nodes) == 1 {
		checkSharedSettings(controllers[0], nodes[0], p)
	}
	snapshotter := false
	for _, w := range controllers {
		for _, c := range w.Template.Spec.Containers {
			snapshotter = snapshotter || sidecarRole(c.Image) == "csi-snapshotter"
		}
	}
	for _, o := range objs {
		switch t := o.Typed.(type) {
		case *storagev1.StorageClass:
			if t.Provisioner != driver.Name {
				p.add(o, "provisioner %q is not the driver %q", t.Provisioner, driver.Name)
			}
			if capacity && (t.VolumeBindingMode == nil || *t.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer) {
				p.add(o, "capacity tracking only informs scheduling with volumeBindingMode WaitForFirstConsumer")
			}
		case *snapshotv1.VolumeSnapshotClass:
			if t.Driver != driver.Name {
				p.add(o, "driver %q is not the driver %q", t.Driver, driver.Name)
			}
			if !snapshotter {
				p.add(o, "a VolumeSnapshotClass without the csi-snapshotter sidecar never gets its snapshots cut")
			}
		}
	}
}

func checkController(w PodOwner, objs []*Object, capacity bool, p *Problems) {
	o, spec := w.Obj, &w.Template.Spec
	dc := driverContainer(spec)
	if psc := spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		p.add(o, "the controller pod must set runAsNonRoot: true")
	}
	sockVol, _ := volumeAt(spec, dc, socketDir(dc))
	if sockVol == nil {
		p.add(o, "driver socket directory %s is not a mounted volume (sidecars cannot reach it)", socketDir(dc))
	}
	if key, ok := flag(dc.Args, "rds-key-file"); !ok {
		p.add(o, "driver has no --rds-key-file")
	} else if v, m := volumeAt(spec, dc, path.Dir(key)); v == nil || v.Secret == nil || !m.ReadOnly {
		p.add(o, "--rds-key-file %s must lie in a read-only mounted Secret volume", key)
	}
	var livenessPort int
	var livenessHost string
	haveLiveness := false
	roles := map[string]*corev1.Container{}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		if isPrivileged(c) {
			p.add(o, "container %s is privileged; nothing in the controller needs that", c.Name)
		}
		role := sidecarRole(c.Image)
		if role == "" {
			continue
		}
		roles[role] = c
		if addr, ok := flag(c.Args, "csi-address"); !ok {
			p.add(o, "sidecar %s has no --csi-address", c.Name)
		} else if sockVol != nil {
			if v, _ := volumeAt(spec, c, path.Dir(addr)); v == nil || v.Name != sockVol.Name {
				p.add(o, "sidecar %s: --csi-address %s is not on the driver's socket volume", c.Name, addr)
			}
		}
		switch role {
		case "csi-provisioner", "csi-attacher", "csi-resizer", "csi-snapshotter":
			if _, ok := flag(c.Args, "leader-election"); !ok {
				p.add(o, "sidecar %s runs without --leader-election (two replicas would both act)", c.Name)
			}
			if v, _ := flag(c.Args, "leader-election-namespace"); v != "$(NAMESPACE)" || envFieldRef(c, "NAMESPACE") != "metadata.namespace" {
				p.add(o, "sidecar %s: --leader-election-namespace=$(NAMESPACE) with NAMESPACE from metadata.namespace expected", c.Name)
			}
		case "livenessprobe":
			livenessHost, livenessPort, haveLiveness = listenAddr(c)
		case "csi-node-driver-registrar":
			p.add(o, "node-driver-registrar belongs in the node DaemonSet")
		}
	}
	for _, need := range []string{"csi-provisioner", "csi-attacher", "csi-resizer", "livenessprobe"} {
		if roles[need] == nil {
			p.add(o, "controller lacks the %s sidecar", need)
		}
	}
	if haveLiveness {
		h, port, ok := probeTarget(dc, dc.LivenessProbe)
		if !ok || port != livenessPort || (isLoopback(livenessHost) && !isLoopback(h)) {
			p.add(o, "the livenessprobe sidecar listens on %s:%d but the driver container's livenessProbe does not probe it", livenessHost, livenessPort)
		}
	}

	prov := roles["csi-provisioner"]
	if prov == nil {
		return
	}
	_, enabled := flag(prov.Args, "enable-capacity")
	switch {
	case capacity && !enabled:
		p.add(o, "CSIDriver storageCapacity is true but csi-provisioner runs without --enable-capacity (no CSIStorageCapacity objects would exist)")
	case enabled && !capacity:
		p.add(o, "csi-provisioner --enable-capacity but the CSIDriver has storageCapacity false (the scheduler ignores the objects)")
	}
	if enabled {
		if envFieldRef(prov, "POD_NAME") != "metadata.name" || envFieldRef(prov, "NAMESPACE") != "metadata.namespace" {
			p.add(o, "csi-provisioner --enable-capacity needs POD_NAME and NAMESPACE from the downward API")
		}
		level, _ := flag(prov.Args, "capacity-ownerref-level")
		if _, isDeploy := o.Typed.(*appsv1.Deployment); isDeploy && level != "2" {
			p.add(o, "csi-provisioner in a Deployment needs --capacity-ownerref-level=2 (pod -> ReplicaSet -> Deployment), got %q", level)
		}
		sa := spec.ServiceAccountName
		for _, need := range [][3]string{
			{"storage.k8s.io", "csistoragecapacities", "create"},
			{"", "pods", "get"},
			{"apps", "replicasets", "get"},
		} {
			if !granted(objs, o.NS, sa, need[0], need[1], need[2]) {
				p.add(o, "ServiceAccount %s may not %s %s.%s (needed by --enable-capacity)", sa, need[2], need[1], need[0])
			}
		}
	}
	if _, ok := flag(prov.Args, "extra-create-metadata"); !ok {
		p.add(o, "csi-provisioner needs --extra-create-metadata (the driver's Events find the PVC through it)")
	}
	sa := spec.ServiceAccountName
	for _, need := range [][3]string{
		{"coordination.k8s.io", "leases", "update"},
		{"", "nodes", "get"}, // the driver's ControllerPublish NOT_FOUND lookup
		{"", "events", "create"},
		{"", "persistentvolumes", "get"},
		{"", "persistentvolumeclaims", "get"},
		{"storage.k8s.io", "volumeattachments", "patch"},
		{"", "persistentvolumes", "create"},
	} {
		if !granted(objs, o.NS, sa, need[0], need[1], need[2]) {
			p.add(o, "ServiceAccount %s may not %s %s.%s", sa, need[2], need[1], need[0])
		}
	}
}

// socketDir is the directory of the driver's unix:// endpoint.
func socketDir(dc *corev1.Container) string {
	ep, _ := flag(dc.Args, "endpoint")
	return path.Dir(strings.TrimPrefix(ep, "unix://"))
}

func checkNode(w PodOwner, objs []*Object, driverName string, p *Problems) {
	o, spec := w.Obj, &w.Template.Spec
	if _, ok := o.Typed.(*appsv1.DaemonSet); !ok {
		p.add(o, "the node plugin must be a DaemonSet")
	}
	if !spec.HostNetwork {
		p.add(o, "the node plugin needs hostNetwork (NVMe/TCP connections are host-wide)")
	}
	dc := driverContainer(spec)
	if !isPrivileged(dc) {
		p.add(o, "the node driver container must be privileged (nvme connect, mount, mkfs)")
	}
	if v, has := flag(dc.Args, "node-id"); !has || v != "$(NODE_NAME)" || envFieldRef(dc, "NODE_NAME") != "spec.nodeName" {
		p.add(o, "--node-id must be $(NODE_NAME) with NODE_NAME from spec.nodeName (the node id must equal the Kubernetes node name)")
	}
	for _, hostDir := range []string{"/dev", "/sys"} {
		if v, _ := volumeAt(spec, dc, hostDir); v == nil || v.HostPath == nil || v.HostPath.Path != hostDir {
			p.add(o, "driver container needs the host's %s at %s", hostDir, hostDir)
		}
	}
	// The in-use scan before NodeUnstage reads /proc/*/fd of every process that may hold the device.
	if !spec.HostPID {
		p.add(o, "the node plugin needs hostPID (the in-use check must see the host's processes)")
	}
	loadsModules := false
	for i := range spec.InitContainers {
		ic := &spec.InitContainers[i]
		loadsModules = loadsModules || strings.Contains(strings.Join(append(ic.Command, ic.Args...), " "), "modprobe")
	}
	if v, m := volumeAt(spec, dc, "/lib/modules"); loadsModules && (v == nil || v.HostPath == nil || !m.ReadOnly) {
		p.add(o, "driver container needs the host's kernel modules read-only at /lib/modules (modprobe nvme_tcp)")
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil && v.HostPath.Type != nil && *v.HostPath.Type == corev1.HostPathDirectory && path.Base(path.Clean(v.HostPath.Path)) == "modules" {
			p.add(o, "volume %s: the kernel modules directory must not be type Directory (a host without it could never start the plugin)", v.Name)
		}
	}
	if root, loop := flag(dc.Args, "loop-root"); loop {
		if v, _ := volumeAt(spec, dc, root); v == nil || v.HostPath == nil || path.Clean(v.HostPath.Path) != path.Clean(root) {
			p.add(o, "--loop-root=%s must be the host directory mounted at the same path", root)
		}
	}
	sockDir := socketDir(dc)
	pluginVol, _ := volumeAt(spec, dc, sockDir)
	if pluginVol == nil || pluginVol.HostPath == nil {
		p.add(o, "driver socket directory %s must be a hostPath (kubelet dials it)", sockDir)
		return
	}
	pluginDir := path.Clean(pluginVol.HostPath.Path)
	if path.Base(pluginDir) != driverName || path.Base(path.Dir(pluginDir)) != "plugins" {
		p.add(o, "plugin directory %s should be <kubelet dir>/plugins/%s", pluginDir, driverName)
	}
	kubeletDir := path.Dir(path.Dir(pluginDir))
	if envValue(dc, "RDS_CSI_KUBELET_DIR") != kubeletDir {
		p.add(o, "driver container needs RDS_CSI_KUBELET_DIR=%s (the kubelet directory `rds-csi doctor --node` checks)", kubeletDir)
	}
	kv, km := volumeAt(spec, dc, kubeletDir)
	if kv == nil || kv.HostPath == nil || path.Clean(kv.HostPath.Path) != kubeletDir {
		p.add(o, "driver container must mount the host's kubelet directory %s at the same path (staging and target paths are host paths)", kubeletDir)
	} else if km.MountPropagation == nil || *km.MountPropagation != corev1.MountPropagationBidirectional {
		p.add(o, "kubelet directory mount must use Bidirectional propagation (mounts must be visible to kubelet and pods)")
	}
	for i := range spec.InitContainers {
		ic := &spec.InitContainers[i]
		if !strings.Contains(strings.Join(append(ic.Command, ic.Args...), " "), "modprobe") {
			continue
		}
		if v, m := volumeAt(spec, ic, "/lib/modules"); v == nil || v.HostPath == nil || !m.ReadOnly {
			p.add(o, "init container %s runs modprobe without the host's modules mounted read-only at /lib/modules", ic.Name)
		}
		if !isPrivileged(ic) {
			p.add(o, "init container %s runs modprobe but is not privileged (loading a module needs CAP_SYS_MODULE)", ic.Name)
		}
	}

	var healthHost string
	var healthPort int
	haveHealth, haveRegistrar := false, false
	for i := range spec.Containers {
		c := &spec.Containers[i]
		switch sidecarRole(c.Image) {
		case "csi-node-driver-registrar":
			haveRegistrar = true
			reg, _ := flag(c.Args, "kubelet-registration-path")
			if reg != pluginDir+"/csi.sock" {
				p.add(o, "registrar --kubelet-registration-path=%s, but the driver socket is %s/csi.sock on the host", reg, pluginDir)
			}
			if v, _ := volumeAt(spec, c, "/registration"); v == nil || v.HostPath == nil || path.Clean(v.HostPath.Path) != kubeletDir+"/plugins_registry" {
				p.add(o, "registrar needs %s/plugins_registry at /registration", kubeletDir)
			}
			h, port, ok := listenAddr(c)
			ph, pp, pok := probeTarget(c, c.LivenessProbe)
			if !ok || !pok || pp != port || (isLoopback(h) && !isLoopback(ph)) {
				p.add(o, "registrar: livenessProbe must probe its --http-endpoint /healthz")
			}
		case "livenessprobe":
			healthHost, healthPort, haveHealth = listenAddr(c)
			if spec.HostNetwork && !isLoopback(healthHost) {
				p.add(o, "livenessprobe sidecar on the host network should bind 127.0.0.1, not every node address")
			}
		case "csi-provisioner", "csi-attacher", "csi-resizer", "csi-snapshotter":
			p.add(o, "controller sidecar %s in the node DaemonSet", c.Name)
		}
	}
	if !haveRegistrar {
		p.add(o, "node plugin lacks node-driver-registrar (kubelet would never learn of the driver)")
	}
	if !haveHealth {
		p.add(o, "node plugin lacks the livenessprobe sidecar (nothing turns Probe into readiness)")
	} else {
		h, port, ok := probeTarget(dc, dc.ReadinessProbe)
		if !ok || port != healthPort || (isLoopback(healthHost) && !isLoopback(h)) {
			p.add(o, "driver readinessProbe must probe the livenessprobe sidecar (%s:%d): Ready must mean NVMe/TCP works here", healthHost, healthPort)
		}
	}
	if dc.LivenessProbe == nil {
		p.add(o, "node driver container has no livenessProbe")
	}
	// The node plugin posts Events (docs/metrics.md): it needs its token and these rights.
	if spec.AutomountServiceAccountToken != nil && !*spec.AutomountServiceAccountToken {
		p.add(o, "the node plugin needs its service account token (it posts Events)")
	}
	if sa := spec.ServiceAccountName; sa == "" {
		p.add(o, "the node plugin needs its own ServiceAccount")
	} else {
		for _, need := range [][3]string{
			{"", "events", "create"},
			{"", "persistentvolumes", "get"},
			{"", "persistentvolumeclaims", "get"},
			{"", "pods", "get"},
		} {
			if !granted(objs, o.NS, sa, need[0], need[1], need[2]) {
				p.add(o, "ServiceAccount %s may not %s %s (the node plugin's Events)", sa, need[2], need[1])
			}
		}
	}
}

// granted reports whether a ServiceAccount may use verb on group/resource in namespace ns, through the
// (Cluster)Roles bound to it in objs.
func granted(objs []*Object, ns, sa, group, resource, verb string) bool {
	ruleAllows := func(rules []rbacv1.PolicyRule) bool {
		for _, r := range rules {
			if contains(r.APIGroups, group) && contains(r.Resources, resource) && contains(r.Verbs, verb) {
				return true
			}
		}
		return false
	}
	bound := func(subjects []rbacv1.Subject) bool {
		for _, s := range subjects {
			if s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == ns {
				return true
			}
		}
		return false
	}
	rulesOf := func(kind, roleNS, name string) []rbacv1.PolicyRule {
		switch t := find(objs, kind, roleNS, name); {
		case t == nil:
			return nil
		default:
			switch r := t.Typed.(type) {
			case *rbacv1.ClusterRole:
				return r.Rules
			case *rbacv1.Role:
				return r.Rules
			}
		}
		return nil
	}
	for _, o := range objs {
		switch b := o.Typed.(type) {
		case *rbacv1.ClusterRoleBinding:
			if bound(b.Subjects) && ruleAllows(rulesOf(b.RoleRef.Kind, "", b.RoleRef.Name)) {
				return true
			}
		case *rbacv1.RoleBinding:
			if o.NS != ns || !bound(b.Subjects) {
				continue
			}
			roleNS := ""
			if b.RoleRef.Kind == "Role" {
				roleNS = o.NS
			}
			if ruleAllows(rulesOf(b.RoleRef.Kind, roleNS, b.RoleRef.Name)) {
				return true
			}
		}
	}
	return false
}

// Settings both halves must agree on: the node only ever disconnects NQNs with the controller's prefix, and
// the attach limit the node reports is the one the controller enforces. Both must come from the ConfigMap the
// controller reads with envFrom.
func checkSharedSettings(ctrl, node PodOwner, p *Problems) {
	cdc, ndc := driverContainer(&ctrl.Template.Spec), driverContainer(&node.Template.Spec)
	var configMaps []string
	for _, ef := range cdc.EnvFrom {
		if ef.ConfigMapRef != nil {
			configMaps = append(configMaps, ef.ConfigMapRef.Name)
		}
	}
	for _, key := range []string{"RDS_CSI_NQN_PREFIX", "RDS_CSI_MAX_VOLUMES_PER_NODE"} {
		ok := false
		for _, e := range ndc.Env {
			if e.Name == key && e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil &&
				e.ValueFrom.ConfigMapKeyRef.Key == key && contains(configMaps, e.ValueFrom.ConfigMapKeyRef.Name) {
				ok = true
			}
		}
		if !ok {
			p.add(node.Obj, "%s must come from the controller's ConfigMap %v (both sides must agree on it)", key, configMaps)
		}
	}
}
