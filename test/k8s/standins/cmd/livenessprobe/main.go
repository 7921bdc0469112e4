// livenessprobe stand-in. The real kubernetes-csi/livenessprobe is not served by the Go module proxy this
// CI can reach, so the real-cluster suite runs this instead. It behaves the same for what the chart uses:
// GET /healthz calls the driver's Identity/Probe on --csi-address and answers 200 only when the call
// succeeds and the driver does not report ready=false; any other answer is a 500 with the reason.
// Flags: the ones deploy/helm passes (--csi-address, --http-endpoint, --probe-timeout), plus --health-port
// and -v so the upstream command lines parse. Not for production use.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

type prober struct {
	identity csi.IdentityClient
	timeout  time.Duration
}

func (p prober) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	defer cancel()
	res, err := p.identity.Probe(ctx, &csi.ProbeRequest{})
	switch {
	case err != nil:
		http.Error(w, "probe failed: "+err.Error(), http.StatusInternalServerError)
	case res.GetReady() != nil && !res.GetReady().GetValue():
		http.Error(w, "driver reports not ready", http.StatusInternalServerError)
	default:
		fmt.Fprintln(w, "ok")
	}
}

func main() {
	csiAddress := flag.String("csi-address", "/run/csi/socket", "path of the CSI driver's socket")
	endpoint := flag.String("http-endpoint", "", "address to serve /healthz on (host:port)")
	port := flag.Int("health-port", 9808, "port to serve /healthz on when --http-endpoint is empty")
	timeout := flag.Duration("probe-timeout", time.Second, "deadline of each Probe call")
	flag.Int("v", 0, "log verbosity (accepted for compatibility, ignored)")
	flag.Parse()

	conn, err := grpc.NewClient("unix://"+*csiAddress, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatalf("livenessprobe stand-in: %v", err)
	}
	addr := *endpoint
	if addr == "" {
		addr = fmt.Sprintf(":%d", *port)
	}
	mux := http.NewServeMux()
	mux.Handle("/healthz", prober{identity: csi.NewIdentityClient(conn), timeout: *timeout})
	log.Printf("livenessprobe stand-in: /healthz on %s probes %s", addr, *csiAddress)
	log.Fatal(http.ListenAndServe(addr, mux))
}
