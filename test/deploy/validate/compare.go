package main

// "Do the kustomize base and the Helm chart describe the same objects?" Both are decoded, keyed by
// apiVersion/kind/namespace/name, and compared as generic JSON (so key order, quoting and comments do not
// matter, but any value, field or object difference does).

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

func compareSets(a, b []*Object, nameA, nameB string) []string {
	index := func(objs []*Object) map[string]*Object {
		m := map[string]*Object{}
		for _, o := range objs {
			m[o.Key()] = o
		}
		return m
	}
	ia, ib := index(a), index(b)
	var keys []string
	for k := range ia {
		keys = append(keys, k)
	}
	for k := range ib {
		if ia[k] == nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var diffs []string
	for _, k := range keys {
		oa, ob := ia[k], ib[k]
		switch {
		case oa == nil:
			diffs = append(diffs, fmt.Sprintf("%s: only in %s", k, nameB))
		case ob == nil:
			diffs = append(diffs, fmt.Sprintf("%s: only in %s", k, nameA))
		default:
			for _, d := range diffValues("", oa.Raw, ob.Raw) {
				diffs = append(diffs, fmt.Sprintf("%s: %s", k, d))
			}
		}
	}
	return diffs
}

func diffValues(at string, a, b any) []string {
	ma, okA := a.(map[string]any)
	mb, okB := b.(map[string]any)
	if okA && okB {
		var out []string
		keys := map[string]bool{}
		for k := range ma {
			keys[k] = true
		}
		for k := range mb {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			out = append(out, diffValues(at+"."+k, ma[k], mb[k])...)
		}
		return out
	}
	la, okA := a.([]any)
	lb, okB := b.([]any)
	if okA && okB && len(la) == len(lb) {
		var out []string
		for i := range la {
			out = append(out, diffValues(fmt.Sprintf("%s[%d]", at, i), la[i], lb[i])...)
		}
		return out
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return []string{fmt.Sprintf("%s differs: %s vs %s", at, short(a), short(b))}
}

func short(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, _ := json.Marshal(v)
	if len(b) > 120 {
		return string(b[:117]) + "..."
	}
	return string(b)
}
