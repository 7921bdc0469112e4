package main

// Each invariant is shown to fire: the committed kustomize base (rendered from the chart) passes, and a
// copy with exactly one thing broken fails with the message for that thing.

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
)

const basePath = "../../../deploy/kustomize/base/rds-csi.yaml"

func loadBase(t *testing.T) []*Object {
	t.Helper()
	objs, err := ReadFile(basePath)
	if err != nil {
		t.Fatalf("reading %s: %v", basePath, err)
	}
	return objs
}

func typed[T any](t *testing.T, objs []*Object, name string) T {
	t.Helper()
	for _, o := range objs {
		if v, ok := o.Typed.(T); ok && o.Name == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T named %s in the base", zero, name)
	return zero
}

func container(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	t.Fatalf("no container %s", name)
	return nil
}

func without(args []string, drop string) []string {
	var out []string
	for _, a := range args {
		if a != drop {
			out = append(out, a)
		}
	}
	return out
}

func TestBaseIsValid(t *testing.T) {
	if problems := Bundle(loadBase(t)); len(problems) > 0 {
		t.Fatalf("the committed base should pass:\n%s", strings.Join(problems, "\n"))
	}
}

func TestEachInvariantFires(t *testing.T) {
	ctrl := func(objs []*Object) *corev1.PodSpec {
		return &typed[*appsv1.Deployment](t, objs, "rds-csi-controller").Spec.Template.Spec
	}
	node := func(objs []*Object) *corev1.PodSpec {
		return &typed[*appsv1.DaemonSet](t, objs, "rds-csi-node").Spec.Template.Spec
	}
	cases := []struct {
		name   string
		break_ func([]*Object) []*Object
		want   string
	}{
		{"storageCapacity without --enable-capacity", func(o []*Object) []*Object {
			c := container(t, ctrl(o), "csi-provisioner")
			c.Args = without(c.Args, "--enable-capacity")
			return o
		}, "without --enable-capacity"},
		{"--enable-capacity without storageCapacity", func(o []*Object) []*Object {
			f := false
			typed[*storagev1.CSIDriver](t, o, "rds.csi.mikrotik.com").Spec.StorageCapacity = &f
			return o
		}, "storageCapacity false"},
		{"capacity without the downward API", func(o []*Object) []*Object {
			container(t, ctrl(o), "csi-provisioner").Env = nil
			return o
		}, "needs POD_NAME and NAMESPACE"},
		{"livenessprobe sidecar nobody probes", func(o []*Object) []*Object {
			container(t, ctrl(o), "rds-csi").LivenessProbe = nil
			return o
		}, "livenessProbe does not probe it"},
		{"node readiness not wired to the sidecar", func(o []*Object) []*Object {
			container(t, node(o), "rds-csi").ReadinessProbe = nil
			return o
		}, "readinessProbe must probe the livenessprobe sidecar"},
		{"sidecar without leader election", func(o []*Object) []*Object {
			c := container(t, ctrl(o), "csi-attacher")
			c.Args = without(c.Args, "--leader-election")
			return o
		}, "without --leader-election"},
		{"no /lib/modules on the node", func(o []*Object) []*Object {
			c := container(t, node(o), "rds-csi")
			var keep []corev1.VolumeMount
			for _, m := range c.VolumeMounts {
				if m.MountPath != "/lib/modules" {
					keep = append(keep, m)
				}
			}
			c.VolumeMounts = keep
			return o
		}, "kernel modules read-only"},
		{"node plugin without hostPID", func(o []*Object) []*Object {
			node(o).HostPID = false
			return o
		}, "needs hostPID"},
		{"kernel modules hostPath of type Directory", func(o []*Object) []*Object {
			for i, v := range node(o).Volumes {
				if v.HostPath != nil && v.HostPath.Path == "/lib/modules" {
					d := corev1.HostPathDirectory
					node(o).Volumes[i].HostPath.Type = &d
				}
			}
			return o
		}, "must not be type Directory"},
		{"doctor not told the kubelet dir", func(o []*Object) []*Object {
			c := container(t, node(o), "rds-csi")
			for i := range c.Env {
				if c.Env[i].Name == "RDS_CSI_KUBELET_DIR" {
					c.Env[i].Value = "/elsewhere"
				}
			}
			return o
		}, "RDS_CSI_KUBELET_DIR=/var/lib/kubelet"},
		{"loop root not mounted", func(o []*Object) []*Object {
			c := container(t, node(o), "rds-csi")
			c.Args = append(c.Args, "--transport=loop", "--loop-root=/srv/sim")
			return o
		}, "--loop-root=/srv/sim must be the host directory"},
		{"kubelet dir without Bidirectional", func(o []*Object) []*Object {
			c := container(t, node(o), "rds-csi")
			for i := range c.VolumeMounts {
				if c.VolumeMounts[i].MountPath == "/var/lib/kubelet" {
					hc := corev1.MountPropagationHostToContainer
					c.VolumeMounts[i].MountPropagation = &hc
				}
			}
			return o
		}, "Bidirectional propagation"},
		{"node id not from spec.nodeName", func(o []*Object) []*Object {
			c := container(t, node(o), "rds-csi")
			c.Env = c.Env[1:]
			return o
		}, "--node-id must be $(NODE_NAME)"},
		{"unprivileged module loader", func(o []*Object) []*Object {
			f := false
			node(o).InitContainers[0].SecurityContext.Privileged = &f
			return o
		}, "not privileged"},
		{"wrong registration path", func(o []*Object) []*Object {
			c := container(t, node(o), "node-driver-registrar")
			c.Args = append(without(c.Args, "--kubelet-registration-path=/var/lib/kubelet/plugins/rds.csi.mikrotik.com/csi.sock"),
				"--kubelet-registration-path=/var/lib/kubelet/plugins/other/csi.sock")
			return o
		}, "--kubelet-registration-path"},
		{"registrar's no-op exec probe", func(o []*Object) []*Object {
			c := container(t, node(o), "node-driver-registrar")
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
				Command: []string{"/csi-node-driver-registrar", "--mode=kubelet-registration-probe"}}}}
			return o
		}, "no-op since node-driver-registrar v2.9.0"},
		{"StorageClass for another driver", func(o []*Object) []*Object {
			typed[*storagev1.StorageClass](t, o, "rds-ext4").Provisioner = "other.csi.example.com"
			return o
		}, "is not the driver"},
		{"driver cannot look up nodes", func(o []*Object) []*Object {
			typed[*rbacv1.ClusterRole](t, o, "rds-csi-driver").Rules = typed[*rbacv1.ClusterRole](t, o, "rds-csi-driver").Rules[1:]
			// The provisioner's role also grants get nodes; take it from there too.
			prov := typed[*rbacv1.ClusterRole](t, o, "rds-csi-provisioner")
			var keep []rbacv1.PolicyRule
			for _, r := range prov.Rules {
				if !contains(r.Resources, "nodes") {
					keep = append(keep, r)
				}
			}
			prov.Rules = keep
			return o
		}, "may not get nodes"},
		{"node plugin cannot post Events", func(o []*Object) []*Object {
			typed[*rbacv1.ClusterRole](t, o, "rds-csi-node").Rules = nil
			return o
		}, "the node plugin's Events"},
		{"wildcard RBAC", func(o []*Object) []*Object {
			r := typed[*rbacv1.ClusterRole](t, o, "rds-csi-driver")
			r.Rules = append(r.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"*"}, Verbs: []string{"get"}})
			return o
		}, "wildcard"},
		{"unpinned image", func(o []*Object) []*Object {
			container(t, ctrl(o), "csi-resizer").Image = "registry.k8s.io/sig-storage/csi-resizer:latest"
			return o
		}, "is not pinned"},
		{"probe on an undeclared named port", func(o []*Object) []*Object {
			c := container(t, ctrl(o), "csi-provisioner")
			c.LivenessProbe.HTTPGet.Port.StrVal = "nope"
			return o
		}, `uses port "nope"`},
		{"Service targetPort that no container has", func(o []*Object) []*Object {
			typed[*corev1.Service](t, o, "rds-csi-controller-metrics").Spec.Ports[0].TargetPort.StrVal = "metrix"
			return o
		}, `targetPort "metrix"`},
		{"a Secret in the deployment", func(o []*Object) []*Object {
			return append(o, &Object{Source: "test", Name: "leak", NS: "rds-csi", Typed: &corev1.Secret{
				Data: map[string][]byte{"ssh-privatekey": []byte("x")}}})
		}, "must not create Secrets"},
		{"node and controller disagree on the NQN prefix", func(o []*Object) []*Object {
			c := container(t, node(o), "rds-csi")
			for i := range c.Env {
				if c.Env[i].Name == "RDS_CSI_NQN_PREFIX" {
					c.Env[i].ValueFrom = nil
					c.Env[i].Value = "nqn.2026-01.com.example.other"
				}
			}
			return o
		}, "RDS_CSI_NQN_PREFIX must come from the controller's ConfigMap"},
		{"missing ServiceAccount", func(o []*Object) []*Object {
			ctrl(o).ServiceAccountName = "ghost"
			return o
		}, `serviceAccountName "ghost"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problems := Bundle(tc.break_(loadBase(t)))
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Fatalf("expected a problem containing %q, got:\n%s", tc.want, strings.Join(problems, "\n"))
		})
	}
}

func TestStrictDecoding(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\nbogus: 1\n",
		"misspelt nested": "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      hostNetwrk: true\n",
		"duplicate key":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n",
		"unknown kind":    "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: x}\n",
		"mirrored typo":   "apiVersion: cdi.kubevirt.io/v1beta1\nkind: StorageProfile\nmetadata: {name: x}\nspec:\n  cloneStrategey: copy\n",
		"no name":         "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(name, []byte(doc)); err == nil {
				t.Fatal("decoded without error")
			}
		})
	}
}

func TestExampleSecretsMustBePlaceholders(t *testing.T) {
	allowPlaceholderSecrets = true
	defer func() { allowPlaceholderSecrets = false }()
	doc := "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  key: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n"
	objs, err := Decode("secret", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var p Problems
	checkGeneric(objs, &p)
	if len(p) == 0 || !strings.Contains(p[0], "placeholder") {
		t.Fatalf("a real-looking key was accepted: %v", p)
	}
}

func TestMirroredEnums(t *testing.T) {
	doc := "apiVersion: cdi.kubevirt.io/v1beta1\nkind: StorageProfile\nmetadata: {name: x}\nspec:\n  cloneStrategy: clone\n" +
		"  claimPropertySets: [{accessModes: [ReadWriteMany], volumeMode: Blok}]\n"
	objs, err := Decode("sp", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var p Problems
	checkGeneric(objs, &p)
	joined := strings.Join(p, "\n")
	if !strings.Contains(joined, "spec.cloneStrategy") || !strings.Contains(joined, "volumeMode") {
		t.Fatalf("bad enums accepted: %s", joined)
	}
}

func TestCompare(t *testing.T) {
	a, b := loadBase(t), loadBase(t)
	if d := compareSets(a, b, "a", "b"); len(d) != 0 {
		t.Fatalf("identical sets differ: %v", d)
	}
	for _, o := range b {
		if o.GVK.Kind == "Deployment" {
			o.Raw["spec"].(map[string]any)["replicas"] = int64(3)
		}
	}
	b = b[1:] // and drop one object
	d := strings.Join(compareSets(a, b, "a", "b"), "\n")
	if !strings.Contains(d, ".spec.replicas differs") || !strings.Contains(d, "only in a") {
		t.Fatalf("differences not reported: %s", d)
	}
}
