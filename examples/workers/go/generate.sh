#!/usr/bin/env bash
# Regenerate gen/ from proto/ with Go alone: protocompile parses the .proto files and
# protoc-gen-go (both pinned in tools/protogen/go.mod, from the Go module proxy) writes the Go
# code. Commit the result; the worker's build never runs this.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$here/tools/protogen"
go build -o "$tmp/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
# module=…: the files land under gen/ as their go_package says, relative to the module root.
go run . -plugin "$tmp/protoc-gen-go" -param module=example.com/temporal-gateway/examples/workers/go \
  -I "$here/proto" -out "$here" gateway/examples/v1/receipt.proto
