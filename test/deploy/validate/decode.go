package main

// Decoding rendered manifests strictly: every document must be a kind we know, and every field in it must
// exist in that kind's Go API type (an unknown or misspelt field is an error, as is a duplicate key). This
// is what `kubectl apply --validate=strict` would do against a real API server, done offline.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one decoded document.
type Object struct {
	Source string // file:index, for messages
	GVK    schema.GroupVersionKind
	Name   string
	NS     string
	Typed  any            // *appsv1.Deployment, *StorageProfile, ...
	Raw    map[string]any // the document as generic JSON (for comparisons)
}

func (o *Object) Key() string {
	return fmt.Sprintf("%s/%s %s/%s", o.GVK.GroupVersion().String(), o.GVK.Kind, o.NS, o.Name)
}

func (o *Object) String() string { return fmt.Sprintf("%s %s (%s)", o.GVK.Kind, o.Name, o.Source) }

// scheme holds the built-in kinds and the CRD kinds whose Go API modules we can import.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, rbacv1.AddToScheme, storagev1.AddToScheme,
		snapshotv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

var strictSerializer = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
	kjson.SerializerOptions{Yaml: false, Pretty: false, Strict: true})

// mirrored kinds: CDI and KubeVirt API modules are not reachable through the Go module proxy here, so
// their kinds are decoded into the subset mirrors in kubevirt_types.go, with unknown fields refused.
var mirrored = map[schema.GroupVersionKind]func() any{
	{Group: "cdi.kubevirt.io", Version: "v1beta1", Kind: "StorageProfile"}: func() any { return &StorageProfile{} },
	{Group: "cdi.kubevirt.io", Version: "v1beta1", Kind: "DataVolume"}:     func() any { return &DataVolume{} },
	{Group: "kubevirt.io", Version: "v1", Kind: "VirtualMachine"}:          func() any { return &VirtualMachine{} },
}

// ReadFile splits a multi-document YAML file and decodes every non-empty document strictly.
func ReadFile(path string) ([]*Object, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(path, data)
}

func Decode(source string, data []byte) ([]*Object, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*Object
	var errs []error
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		if isBlank(doc) {
			continue
		}
		obj, err := decodeOne(fmt.Sprintf("%s#%d", source, i), doc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, obj)
	}
	return objs, errors.Join(errs...)
}

func isBlank(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") && t != "---" {
			return false
		}
	}
	return true
}

func decodeOne(source string, doc []byte) (*Object, error) {
	// YAMLToJSONStrict refuses duplicate keys, which plain YAML decoding silently merges.
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	var raw map[string]any
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil || tm.Kind == "" {
		return nil, fmt.Errorf("%s: missing or invalid apiVersion/kind (%q, %q)", source, tm.APIVersion, tm.Kind)
	}
	gvk := gv.WithKind(tm.Kind)
	obj := &Object{Source: source, GVK: gvk, Name: tm.Metadata.Name, NS: tm.Metadata.Namespace, Raw: raw}
	if obj.Name == "" {
		return nil, fmt.Errorf("%s: %s has no metadata.name", source, tm.Kind)
	}

	if newFn, ok := mirrored[gvk]; ok {
		typed := newFn()
		strictErrs, err := sigsjson.UnmarshalStrict(js, typed)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		if len(strictErrs) > 0 {
			return nil, fmt.Errorf("%s: %s %s: %w", source, tm.Kind, obj.Name, errors.Join(strictErrs...))
		}
		obj.Typed = typed
		return obj, nil
	}
	if !scheme.Recognizes(gvk) {
		return nil, fmt.Errorf("%s: %s is not a kind this validator knows (add it to the scheme or the mirrors)", source, gvk)
	}
	typed, _, err := strictSerializer.Decode(js, nil, nil)
	if err != nil {
		// Strict decoding errors (unknown/duplicate fields) come back with the object; both are failures.
		return nil, fmt.Errorf("%s: %s %s: %w", source, tm.Kind, obj.Name, err)
	}
	obj.Typed = typed
	return obj, nil
}
