#!/usr/bin/env bash
# API schema testing (docs/testing.md): schemathesis generates requests from
# /v1/openapi.json and sends them to a real `hafen serve` (debug build, SQLite). Every
# response must be documented (status, content type, headers, body schema) and none may be
# a 5xx; the server log must hold no error afterwards.
#
#   tests/schema/run.sh          # CI size: 20 examples per operation
#   tests/schema/run.sh 500      # big
set -euo pipefail
cd "$(dirname "$0")/../.."
examples="${1:-20}"
command -v schemathesis >/dev/null 2>&1 || pip install -q 'schemathesis==4.32.5'
cargo build --bin hafen
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export HAFEN_DATA_DIR="$work/data" HAFEN_LISTEN="127.0.0.1:$port" HAFEN_LOG_FILTER=warn
# The generator sends thousands of webhook requests from one address.
export HAFEN_WEBHOOK_RATE_PER_IP=0
token=$(target/debug/hafen init --data-dir "$work/data" 2>"$work/init.log")
target/debug/hafen serve >/dev/null 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 600); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/readyz" >/dev/null
tenant=$(curl -fsS -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name":"Schema GmbH"}' "$base/v1/tenants" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# The document itself first: a parameter declared in the path that the path does not carry (or
# a `{name}` in the path nobody declares) stops generated clients from calling the operation,
# and schemathesis would not notice (it fills in whatever is declared). The same list as the
# unit test http::document_tests.
curl -fsS "$base/v1/openapi.json" > "$work/openapi.json"
python3 - "$work/openapi.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
found = []
for path, item in doc["paths"].items():
    templated = [s[1:-1] for s in path.split("/") if s.startswith("{") and s.endswith("}")]
    for method, op in item.items():
        params = op.get("parameters", [])
        declared = [p["name"] for p in params if p.get("in") == "path"]
        found += [f"{method} {path}: `{n}` is declared in the path but is not in it" for n in declared if n not in templated]
        found += [f"{method} {path}: `{{{n}}}` is not declared" for n in templated if n not in declared]
        found += [f"{method} {path}: `limit` does not say 1-500" for p in params
                  if p["name"] == "limit" and (p.get("schema", {}).get("minimum"), p.get("schema", {}).get("maximum")) != (1, 500)]
if "/hooks/{platform}/{channel}" not in doc["paths"]:
    found.append("the webhook route /hooks/{platform}/{channel} is not in the document")
if found:
    sys.exit("schema: the API document is wrong:\n  " + "\n  ".join(found))
PY

# From the scratch dir: schemathesis keeps a cache of its findings in the working directory.
# One worker: with two, Hypothesis parses lambda sources from two threads at once, and CPython
# 3.11's ast.parse is not thread-safe there ("SystemError: AST constructor recursion depth
# mismatch", seen once in CI; every generated request had passed).
config="$PWD/tests/schema/schemathesis.toml"
(cd "$work" && HAFEN_TOKEN="$token" HAFEN_TENANT="$tenant" schemathesis --config-file "$config" \
  run "$base/v1/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "$examples" --workers 1 --seed 9 --no-color --generation-database none \
  --report junit --report-dir "$work/report") | tee "$work/schemathesis.out"
cases=$(python3 - "$work/report" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
n = 0
for f in glob.glob(sys.argv[1] + "/*.xml"):
    for case in ET.parse(f).getroot().iter("testcase"):
        n += 1
print(n)
PY
)
# actix-http itself logs a client's unparsable request head at ERROR level (target
# actix_http::h1::dispatcher); that is the client's fault, answered with 400. Hafen's own
# errors are what must not appear.
if grep -E '"level":"ERROR"|panicked' "$work/server.log" | grep -v '"target":"actix_http::h1::dispatcher"'; then
  echo "schema: the server logged errors" >&2
  exit 1
fi
generated=$(sed -n 's/^ *\([0-9][0-9]*\) generated.*/\1/p' "$work/schemathesis.out" | tail -n 1)
echo "schema: $cases operations, ${generated:-?} generated requests, no 5xx, every response as documented"
