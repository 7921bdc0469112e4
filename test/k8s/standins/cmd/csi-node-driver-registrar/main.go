// node-driver-registrar stand-in. The real kubernetes-csi/node-driver-registrar is not served by the Go
// module proxy this CI can reach, so the real-cluster suite runs this instead. What it reproduces, because
// the suite depends on it:
//   - it asks the driver its name (Identity/GetPluginInfo, retried until the driver answers);
//   - it serves kubelet's plugin-registration API (k8s.io/kubelet pluginregistration/v1) on
//     <--plugin-registration-path>/<driver name>-reg.sock, announcing --kubelet-registration-path;
//   - when kubelet reports that registration failed (its NodeGetInfo call to the driver failed), it exits
//     with status 1, exactly like upstream (so a node where the driver refuses NodeGetInfo shows a
//     restarting registrar, the behaviour docs/install.md describes);
//   - /healthz on --http-endpoint answers 200 while the registration socket exists.
//
// Flags: the ones deploy/helm passes, plus -v and --timeout so upstream command lines parse. Not for
// production use.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registration "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

type registrar struct {
	registration.UnimplementedRegistrationServer
	driverName, endpoint string
	failed               chan string
}

func (r *registrar) GetInfo(context.Context, *registration.InfoRequest) (*registration.PluginInfo, error) {
	return &registration.PluginInfo{
		Type:              registration.CSIPlugin,
		Name:              r.driverName,
		Endpoint:          r.endpoint,
		SupportedVersions: []string{"1.0.0"},
	}, nil
}

func (r *registrar) NotifyRegistrationStatus(_ context.Context, s *registration.RegistrationStatus) (*registration.RegistrationStatusResponse, error) {
	if s.PluginRegistered {
		log.Printf("kubelet registered %s", r.driverName)
	} else {
		r.failed <- s.Error
	}
	return &registration.RegistrationStatusResponse{}, nil
}

// driverName asks the driver for its name, retrying while the driver starts.
func driverName(conn *grpc.ClientConn, timeout time.Duration) string {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		info, err := csi.NewIdentityClient(conn).GetPluginInfo(ctx, &csi.GetPluginInfoRequest{})
		cancel()
		if err == nil {
			return info.GetName()
		}
		log.Printf("GetPluginInfo: %v (retrying in 2 s)", err)
		time.Sleep(2 * time.Second)
	}
}

func main() {
	csiAddress := flag.String("csi-address", "/run/csi/socket", "path of the CSI driver's socket in this container")
	kubeletPath := flag.String("kubelet-registration-path", "", "path of the driver's socket on the host, given to kubelet")
	regDir := flag.String("plugin-registration-path", "/registration", "kubelet's plugins_registry directory in this container")
	endpoint := flag.String("http-endpoint", "", "address to serve /healthz on (host:port); empty: none")
	timeout := flag.Duration("timeout", 10*time.Second, "deadline of each call to the driver")
	flag.Int("v", 0, "log verbosity (accepted for compatibility, ignored)")
	flag.Parse()
	if *kubeletPath == "" {
		log.Fatal("--kubelet-registration-path is required")
	}

	conn, err := grpc.NewClient("unix://"+*csiAddress, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	r := &registrar{driverName: driverName(conn, *timeout), endpoint: *kubeletPath, failed: make(chan string, 1)}
	socket := filepath.Join(*regDir, r.driverName+"-reg.sock")
	_ = os.Remove(socket)
	listener, err := net.Listen("unix", socket)
	if err != nil {
		log.Fatal(err)
	}
	server := grpc.NewServer()
	registration.RegisterRegistrationServer(server, r)
	go func() { log.Fatal(server.Serve(listener)) }()
	log.Printf("registration socket %s for %s (driver socket on the host: %s)", socket, r.driverName, *kubeletPath)

	if *endpoint != "" {
		go func() {
			log.Fatal(http.ListenAndServe(*endpoint, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if _, err := os.Stat(socket); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				fmt.Fprintln(w, "ok")
			})))
		}()
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	select {
	case reason := <-r.failed:
		_ = os.Remove(socket)
		log.Printf("kubelet failed to register %s: %s; exiting so the container restarts (as upstream does)", r.driverName, reason)
		os.Exit(1)
	case <-stop:
		_ = os.Remove(socket)
	}
}
