#!/usr/bin/env bash
# One command for the Petstore example: builds, starts the in-memory pet store on 127.0.0.1:9000 and
# api2mcp on http://127.0.0.1:8080/mcp. Ctrl-C stops both. Then try: examples/petstore/demo.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet --bin api2mcp --example petstore_upstream
target/release/examples/petstore_upstream &
upstream=$!
trap 'kill $upstream 2>/dev/null || true' EXIT
exec_api2mcp() { target/release/api2mcp serve --config examples/petstore/api2mcp.yaml --listen "${LISTEN:-127.0.0.1:8080}"; }
exec_api2mcp
