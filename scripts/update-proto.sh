#!/usr/bin/env bash
# Re-vendors proto/csi.proto from the Go module github.com/container-storage-interface/spec and
# regenerates the TypeScript types and the descriptor in src/csi/generated. Usage: scripts/update-proto.sh [version]
set -euo pipefail
version="${1:-v1.12.0}"
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && go mod init tmp >/dev/null 2>&1 && GOFLAGS=-mod=mod go mod download -json "github.com/container-storage-interface/spec@$version" >"$tmp/mod.json")
dir="$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' "$tmp/mod.json")"
{ printf '// Vendored from the Go module github.com/container-storage-interface/spec@%s (csi.proto),\n// fetched with `go mod download` (see scripts/update-proto.sh). Licence: Apache-2.0, header below kept as is.\n' "$version"; cat "$dir/csi.proto"; } >proto/csi.proto
cp "$dir/LICENSE" proto/LICENSE
rm -rf src/csi/generated
npx proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs --grpcLib=@grpc/grpc-js --outDir=src/csi/generated proto/csi.proto
node_modules/.bin/node scripts/csi-descriptor.ts # the descriptor src/csi/proto.ts loads (test/csi/proto.test.ts checks it)
echo "proto/csi.proto is now CSI spec $version"
