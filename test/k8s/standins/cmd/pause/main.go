// pause: the sandbox process of every pod (stand-in for registry.k8s.io/pause, which cannot be pulled here).
// It holds the pod's namespaces open, reaps zombies (it is PID 1 when the pod shares its PID namespace) and
// exits on SIGINT/SIGTERM, like the upstream C program.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
