// A CSI client the way kubelet is one: Go and grpc-go, one connection to the node plugin's unix socket.
// The node benchmark (bench/node.ts) drives it over stdin so that the driver is measured as kubelet
// would see it, without the cost of a JavaScript gRPC client on the caller's side.
//
// Commands, one per line on stdin; each answers one line on stdout with the elapsed microseconds:
//
//	cycle  NodeStageVolume + NodePublishVolume + NodeUnpublishVolume + NodeUnstageVolume
//	floor  four NodeGetCapabilities calls, each after 5 ms idle (the cost of the gRPC hops alone)
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	csi "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	endpoint := flag.String("endpoint", "", "unix:///path/to/csi.sock")
	volume := flag.String("volume", "", "volume id")
	staging := flag.String("staging", "", "staging_target_path")
	target := flag.String("target", "", "target_path")
	var publish contextFlag = map[string]string{}
	flag.Var(&publish, "publish-context", "key=value, repeatable")
	flag.Parse()

	conn, err := grpc.NewClient(*endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("localhost"))
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	node := csi.NewNodeClient(conn)
	capability := &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: "ext4"}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
	}
	ctx := context.Background()
	cycle := func() error {
		if _, err := node.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: *volume, StagingTargetPath: *staging, VolumeCapability: capability, PublishContext: publish}); err != nil {
			return err
		}
		if _, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: *volume, StagingTargetPath: *staging, TargetPath: *target, VolumeCapability: capability, PublishContext: publish}); err != nil {
			return err
		}
		if _, err := node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: *volume, TargetPath: *target}); err != nil {
			return err
		}
		_, err := node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: *volume, StagingTargetPath: *staging})
		return err
	}

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var elapsed time.Duration
		switch in.Text() {
		case "cycle":
			start := time.Now()
			if err := cycle(); err != nil {
				fail(err)
			}
			elapsed = time.Since(start)
		case "floor":
			for i := 0; i < 4; i++ {
				time.Sleep(5 * time.Millisecond)
				start := time.Now()
				if _, err := node.NodeGetCapabilities(ctx, &csi.NodeGetCapabilitiesRequest{}); err != nil {
					fail(err)
				}
				elapsed += time.Since(start)
			}
		default:
			fail(fmt.Errorf("unknown command %q", in.Text()))
		}
		fmt.Println(elapsed.Microseconds())
	}
}

type contextFlag map[string]string

func (c contextFlag) String() string { return fmt.Sprint(map[string]string(c)) }
func (c contextFlag) Set(v string) error {
	for i := 0; i < len(v); i++ {
		if v[i] == '=' {
			c[v[:i]] = v[i+1:]
			return nil
		}
	}
	return fmt.Errorf("publish context %q is not key=value", v)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kubelet-client:", err)
	os.Exit(1)
}
