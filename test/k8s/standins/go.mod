// Stand-ins for the CSI sidecars the Go module proxy does not serve (node-driver-registrar, livenessprobe)
// and for the pause image. Built only by the real-cluster harness (test/k8s); see docs/k8s-e2e.md.
module rds-csi/test/k8s/standins

go 1.26.0

require (
	github.com/container-storage-interface/spec v1.13.0
	google.golang.org/grpc v1.84.0
	k8s.io/kubelet v0.37.2
)

require (
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.40.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260706201446-f0a921348800 // indirect
	google.golang.org/protobuf v1.36.12-0.20260120151049-f2248ac996af // indirect
)
