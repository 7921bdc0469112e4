// validate: offline checks of rds-csi's rendered Kubernetes manifests (scripts/validate-deploy.sh runs it).
//
//	validate bundle FILE...            strict decoding + generic checks + rds-csi invariants, over all FILEs as one deployment
//	validate examples FILE...          strict decoding + generic checks per file (Secrets may hold <placeholders> only)
//	validate compare A.yaml B.yaml     A and B hold the same objects with the same content
//
// Exit status 1 with one line per problem; 0 with a one-line summary.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

var allowPlaceholderSecrets bool

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: validate bundle|examples FILE... | validate compare A B")
		os.Exit(2)
	}
	mode, files := os.Args[1], os.Args[2:]
	var problems []string
	var count int
	switch mode {
	case "bundle":
		objs, err := readAll(files)
		if err != nil {
			fail(strings.Split(err.Error(), "\n"))
		}
		count = len(objs)
		problems = Bundle(objs)
	case "examples":
		allowPlaceholderSecrets = true
		for _, f := range files {
			objs, err := ReadFile(f)
			if err != nil {
				problems = append(problems, strings.Split(err.Error(), "\n")...)
				continue
			}
			count += len(objs)
			var p Problems
			checkGeneric(objs, &p)
			problems = append(problems, p...)
		}
	case "compare":
		if len(files) != 2 {
			fail([]string{"compare needs exactly two files"})
		}
		a, errA := ReadFile(files[0])
		b, errB := ReadFile(files[1])
		if errA != nil || errB != nil {
			fail([]string{fmt.Sprint(errA), fmt.Sprint(errB)})
		}
		count = len(a)
		problems = compareSets(a, b, files[0], files[1])
	default:
		fail([]string{"unknown mode " + mode})
	}
	if len(problems) > 0 {
		fail(problems)
	}
	fmt.Printf("validate %s: %d objects OK (%s)\n", mode, count, strings.Join(files, ", "))
}

// Bundle runs every check on a complete deployment.
func Bundle(objs []*Object) []string {
	var p Problems
	checkGeneric(objs, &p)
	checkRdsCsi(objs, &p)
	sort.Strings(p)
	return p
}

func readAll(files []string) ([]*Object, error) {
	var all []*Object
	for _, f := range files {
		objs, err := ReadFile(f)
		if err != nil {
			return nil, err
		}
		all = append(all, objs...)
	}
	return all, nil
}

func fail(lines []string) {
	for _, l := range lines {
		fmt.Fprintln(os.Stderr, "FAIL:", l)
	}
	os.Exit(1)
}
