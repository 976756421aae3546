#!/usr/bin/env bash
# A scripted MCP client for the running Petstore example (examples/petstore/run.sh): lists the tools
# and calls two of them, with plain JSON-RPC over Streamable HTTP (the server is stateless, so no
# session or handshake is needed for the 2025-11-25 protocol).
set -euo pipefail
url="${MCP_URL:-http://127.0.0.1:8080/mcp}"
rpc() {
  curl -sS -X POST "$url" -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
    -H 'mcp-protocol-version: 2025-11-25' -d "$1"
  echo
}
echo "# tools/list"
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
echo "# tools/call list_pets {limit: 2}"
rpc '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_pets","arguments":{"limit":2}}}'
echo "# tools/call get_pet {petId: 42} (a classified error the agent can act on)"
rpc '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_pet","arguments":{"petId":"42"}}}'
