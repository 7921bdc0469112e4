package main

// Checks that hold for any well-formed set of manifests: names and labels the API server would accept,
// references between objects that resolve (volumes, ports, service accounts, roles, selectors), pinned
// images, and no credentials in RBAC or in Secrets. The API server validates some of these at apply time;
// doing them here makes a broken chart fail in CI instead of on a user's cluster.

import (
	"fmt"
	"path"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Problems collects findings with the object they are about.
type Problems []string

func (p *Problems) add(o *Object, format string, args ...any) {
	*p = append(*p, fmt.Sprintf("%s: %s", o, fmt.Sprintf(format, args...)))
}

// PodOwner is a workload with a pod template.
type PodOwner struct {
	Obj      *Object
	Selector *metav1.LabelSelector
	Template *corev1.PodTemplateSpec
}

func podOwners(objs []*Object) []PodOwner {
	var out []PodOwner
	for _, o := range objs {
		switch t := o.Typed.(type) {
		case *appsv1.Deployment:
			out = append(out, PodOwner{o, t.Spec.Selector, &t.Spec.Template})
		case *appsv1.DaemonSet:
			out = append(out, PodOwner{o, t.Spec.Selector, &t.Spec.Template})
		case *appsv1.StatefulSet:
			out = append(out, PodOwner{o, t.Spec.Selector, &t.Spec.Template})
		}
	}
	return out
}

func checkGeneric(objs []*Object, p *Problems) {
	seen := map[string]*Object{}
	for _, o := range objs {
		if prev, dup := seen[o.Key()]; dup {
			p.add(o, "duplicate of %s", prev.Source)
		}
		seen[o.Key()] = o
		checkMeta(o, p)
		if s, ok := o.Typed.(*corev1.Secret); ok {
			checkSecret(o, s, p)
		}
	}
	for _, w := range podOwners(objs) {
		checkPodOwner(w, objs, p)
	}
	checkRBAC(objs, p)
	checkServices(objs, p)
	checkServiceMonitors(objs, p)
	checkMirrored(objs, p)
}

func checkMeta(o *Object, p *Problems) {
	for _, msg := range validation.IsDNS1123Subdomain(o.Name) {
		p.add(o, "metadata.name %q: %s", o.Name, msg)
	}
	if o.NS != "" {
		for _, msg := range validation.IsDNS1123Label(o.NS) {
			p.add(o, "metadata.namespace %q: %s", o.NS, msg)
		}
	}
	if m, ok := o.Typed.(metav1.Object); ok {
		checkLabels(o, "metadata.labels", m.GetLabels(), p)
		for k := range m.GetAnnotations() {
			for _, msg := range validation.IsQualifiedName(k) {
				p.add(o, "annotation key %q: %s", k, msg)
			}
		}
	}
}

func checkLabels(o *Object, where string, l map[string]string, p *Problems) {
	for k, v := range l {
		for _, msg := range validation.IsQualifiedName(k) {
			p.add(o, "%s key %q: %s", where, k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			p.add(o, "%s %s=%q: %s", where, k, v, msg)
		}
	}
}

// Secrets may appear only in the examples, and only with placeholder values: real key material must never
// be committed (the prior driver's example shipped a real-looking private key).
func checkSecret(o *Object, s *corev1.Secret, p *Problems) {
	if !allowPlaceholderSecrets {
		p.add(o, "the deployment must not create Secrets (the SSH key is created by the operator, see docs/install.md)")
		return
	}
	if len(s.Data) > 0 {
		p.add(o, "example Secrets must use stringData placeholders, not data")
	}
	for k, v := range s.StringData {
		if !strings.Contains(v, "<") || !strings.Contains(v, ">") || strings.Contains(v, "PRIVATE KEY") || strings.Contains(v, "AAAA") {
			p.add(o, "stringData[%s] must be a <placeholder>, not key material", k)
		}
	}
}

func checkPodOwner(w PodOwner, objs []*Object, p *Problems) {
	o, spec := w.Obj, &w.Template.Spec
	if w.Selector == nil {
		p.add(o, "no spec.selector")
	} else if sel, err := metav1.LabelSelectorAsSelector(w.Selector); err != nil {
		p.add(o, "spec.selector: %v", err)
	} else if !sel.Matches(labels.Set(w.Template.Labels)) {
		p.add(o, "spec.selector does not match the pod template's labels")
	}
	checkLabels(o, "template labels", w.Template.Labels, p)

	if sa := spec.ServiceAccountName; sa != "" && find(objs, "ServiceAccount", o.NS, sa) == nil {
		p.add(o, "serviceAccountName %q is not part of the deployment", sa)
	}

	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		if volumes[v.Name] {
			p.add(o, "volume %q defined twice", v.Name)
		}
		volumes[v.Name] = true
		for _, msg := range validation.IsDNS1123Label(v.Name) {
			p.add(o, "volume name %q: %s", v.Name, msg)
		}
	}
	containerNames := map[string]bool{}
	portNames := map[string]string{}
	hostPorts := map[int32]string{}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for i := range all {
		c := &all[i]
		isInit := i < len(spec.InitContainers)
		if containerNames[c.Name] {
			p.add(o, "container %q defined twice", c.Name)
		}
		containerNames[c.Name] = true
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			p.add(o, "container name %q: %s", c.Name, msg)
		}
		checkImage(o, c, p)
		mounts := map[string]bool{}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				p.add(o, "container %s mounts volume %q, which the pod does not define", c.Name, m.Name)
			}
			if !path.IsAbs(m.MountPath) {
				p.add(o, "container %s: mountPath %q is not absolute", c.Name, m.MountPath)
			}
			if mounts[m.MountPath] {
				p.add(o, "container %s: two mounts at %s", c.Name, m.MountPath)
			}
			mounts[m.MountPath] = true
			if m.MountPropagation != nil && *m.MountPropagation == corev1.MountPropagationBidirectional &&
				(c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged) {
				p.add(o, "container %s: Bidirectional mount propagation needs a privileged container", c.Name)
			}
		}
		for _, e := range c.Env {
			for _, msg := range validation.IsEnvVarName(e.Name) {
				p.add(o, "container %s env %q: %s", c.Name, e.Name, msg)
			}
		}
		for _, port := range c.Ports {
			if port.Name != "" {
				for _, msg := range validation.IsValidPortName(port.Name) {
					p.add(o, "container %s port name %q: %s", c.Name, port.Name, msg)
				}
				if other, dup := portNames[port.Name]; dup {
					p.add(o, "port name %q used by containers %s and %s", port.Name, other, c.Name)
				}
				portNames[port.Name] = c.Name
			}
			if spec.HostNetwork {
				if other, dup := hostPorts[port.ContainerPort]; dup {
					p.add(o, "host port %d used by containers %s and %s", port.ContainerPort, other, c.Name)
				}
				hostPorts[port.ContainerPort] = c.Name
			}
		}
		for kind, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
			if probe == nil {
				continue
			}
			if isInit {
				p.add(o, "init container %s has a %s probe (init containers cannot have probes)", c.Name, kind)
			}
			checkProbePort(o, c, kind, probe, p)
		}
	}
}

func checkImage(o *Object, c *corev1.Container, p *Problems) {
	img := c.Image
	name := img
	if at := strings.Index(img, "@"); at >= 0 {
		if !strings.HasPrefix(img[at+1:], "sha256:") || len(img[at+1:]) != len("sha256:")+64 {
			p.add(o, "container %s: malformed digest in image %q", c.Name, img)
		}
		return
	}
	slash := strings.LastIndex(name, "/")
	colon := strings.LastIndex(name, ":")
	if colon < 0 || colon < slash {
		p.add(o, "container %s: image %q has neither a tag nor a digest", c.Name, img)
		return
	}
	if tag := name[colon+1:]; tag == "latest" || tag == "" {
		p.add(o, "container %s: image %q is not pinned (tag %q)", c.Name, img, tag)
	}
}

// A probe's named port is resolved in the probed container only; a numeric port must be declared by some
// container of the pod (or be the well-known port of a sidecar bound to it).
func checkProbePort(o *Object, c *corev1.Container, kind string, probe *corev1.Probe, p *Problems) {
	var port *intstr.IntOrString
	switch {
	case probe.HTTPGet != nil:
		port = &probe.HTTPGet.Port
	case probe.TCPSocket != nil:
		port = &probe.TCPSocket.Port
	case probe.GRPC != nil:
		return
	case probe.Exec != nil:
		for _, a := range probe.Exec.Command {
			if strings.Contains(a, "kubelet-registration-probe") {
				p.add(o, "container %s: --mode=kubelet-registration-probe is a no-op since node-driver-registrar v2.9.0; probe its --http-endpoint /healthz", c.Name)
			}
		}
		return
	default:
		p.add(o, "container %s: %s probe has no handler", c.Name, kind)
		return
	}
	if port.Type == intstr.String {
		for _, cp := range c.Ports {
			if cp.Name == port.StrVal {
				return
			}
		}
		p.add(o, "container %s: %s probe uses port %q, which this container does not declare", c.Name, kind, port.StrVal)
	}
}

func find(objs []*Object, kind, ns, name string) *Object {
	for _, o := range objs {
		if o.GVK.Kind == kind && o.Name == name && o.NS == ns {
			return o
		}
	}
	return nil
}

func checkRBAC(objs []*Object, p *Problems) {
	checkRules := func(o *Object, rules []rbacv1.PolicyRule) {
		for _, r := range rules {
			for _, list := range [][]string{r.APIGroups, r.Resources, r.Verbs} {
				for _, v := range list {
					if v == "*" {
						p.add(o, "wildcard in rule %v (least privilege: name each group, resource and verb)", r)
					}
				}
			}
			for _, res := range r.Resources {
				if res == "secrets" {
					p.add(o, "grants access to secrets; nothing in rds-csi reads Secrets through the API")
				}
			}
			if len(r.Verbs) == 0 || len(r.Resources) == 0 && len(r.NonResourceURLs) == 0 {
				p.add(o, "empty rule %v", r)
			}
		}
	}
	for _, o := range objs {
		switch t := o.Typed.(type) {
		case *rbacv1.ClusterRole:
			checkRules(o, t.Rules)
		case *rbacv1.Role:
			checkRules(o, t.Rules)
		case *rbacv1.ClusterRoleBinding:
			checkBinding(o, objs, t.RoleRef, t.Subjects, "", p)
		case *rbacv1.RoleBinding:
			checkBinding(o, objs, t.RoleRef, t.Subjects, o.NS, p)
		}
	}
}

func checkBinding(o *Object, objs []*Object, ref rbacv1.RoleRef, subjects []rbacv1.Subject, ns string, p *Problems) {
	roleNS := ""
	if ref.Kind == "Role" {
		roleNS = ns
	}
	if find(objs, ref.Kind, roleNS, ref.Name) == nil {
		p.add(o, "roleRef %s %q is not part of the deployment", ref.Kind, ref.Name)
	}
	if len(subjects) == 0 {
		p.add(o, "no subjects")
	}
	for _, s := range subjects {
		if s.Kind != "ServiceAccount" {
			p.add(o, "subject %s %q: only ServiceAccounts of this deployment are expected", s.Kind, s.Name)
			continue
		}
		if find(objs, "ServiceAccount", s.Namespace, s.Name) == nil {
			p.add(o, "subject ServiceAccount %s/%s is not part of the deployment", s.Namespace, s.Name)
		}
	}
}

func podsSelectedBy(objs []*Object, ns string, sel labels.Selector) []PodOwner {
	var out []PodOwner
	for _, w := range podOwners(objs) {
		if w.Obj.NS == ns && sel.Matches(labels.Set(w.Template.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func checkServices(objs []*Object, p *Problems) {
	for _, o := range objs {
		svc, ok := o.Typed.(*corev1.Service)
		if !ok {
			continue
		}
		if len(svc.Spec.Selector) == 0 {
			p.add(o, "Service without a selector")
			continue
		}
		pods := podsSelectedBy(objs, o.NS, labels.SelectorFromSet(svc.Spec.Selector))
		if len(pods) == 0 {
			p.add(o, "selector %v matches no pod template", svc.Spec.Selector)
		}
		for _, sp := range svc.Spec.Ports {
			if sp.TargetPort.Type != intstr.String {
				continue
			}
			for _, w := range pods {
				if !declaresPort(w.Template, sp.TargetPort.StrVal) {
					p.add(o, "targetPort %q is not a port of %s", sp.TargetPort.StrVal, w.Obj)
				}
			}
		}
	}
}

func declaresPort(t *corev1.PodTemplateSpec, name string) bool {
	for _, c := range t.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == name {
				return true
			}
		}
	}
	return false
}

func checkServiceMonitors(objs []*Object, p *Problems) {
	for _, o := range objs {
		sm, ok := o.Typed.(*monitoringv1.ServiceMonitor)
		if !ok {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil {
			p.add(o, "selector: %v", err)
			continue
		}
		portsOffered := map[string]bool{}
		matched := 0
		for _, so := range objs {
			svc, ok := so.Typed.(*corev1.Service)
			if !ok || !sel.Matches(labels.Set(svc.Labels)) {
				continue
			}
			if !sm.Spec.NamespaceSelector.Any && len(sm.Spec.NamespaceSelector.MatchNames) > 0 && !contains(sm.Spec.NamespaceSelector.MatchNames, so.NS) {
				continue
			}
			matched++
			for _, sp := range svc.Spec.Ports {
				portsOffered[sp.Name] = true
			}
		}
		if matched == 0 {
			p.add(o, "selects no Service")
		}
		for _, ep := range sm.Spec.Endpoints {
			if ep.Port != "" && !portsOffered[ep.Port] {
				p.add(o, "endpoint port %q is not a port of any selected Service", ep.Port)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
