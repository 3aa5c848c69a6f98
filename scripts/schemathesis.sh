#!/usr/bin/env bash
# Property-based API testing with schemathesis against a running custos: every operation of
# the served OpenAPI document, all checks, bounded in time. Fails on any server error or any
# response that does not match the document.
#
#   scripts/schemathesis.sh [BINARY] [--postgres URL] [--max-time SECONDS]
#
# BINARY defaults to target/debug/custos. With --postgres the server runs on a fresh
# database created next to the one in URL (dropped afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=target/debug/custos
PG=""
MAX_TIME=90
while [ $# -gt 0 ]; do
    case "$1" in
        --postgres) PG="$2"; shift 2 ;;
        --max-time) MAX_TIME="$2"; shift 2 ;;
        *) BIN="$1"; shift ;;
    esac
done

if ! command -v schemathesis >/dev/null 2>&1; then
    python3 -m pip install -q 'schemathesis>=4,<5'
fi

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PASSWORD="St-schemathesis-$(date +%s)-Qx"
DB_ARGS=()
PG_DB=""
if [ -n "$PG" ]; then
    PG_DB="custos_schemathesis_$$"
    psql "$PG" -qc "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
    DB_ARGS=(--database-url "${PG%/*}/$PG_DB")
fi
cleanup() {
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    [ -n "$PG_DB" ] && psql "$PG" -qc "DROP DATABASE IF EXISTS $PG_DB" || true
    rm -rf "$WORK"
}
trap cleanup EXIT

CUSTOS_ADMIN_PASSWORD="$PASSWORD" "$BIN" serve --listen "127.0.0.1:$PORT" \
    --data-dir "$WORK/data" "${DB_ARGS[@]}" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
    sleep 0.5
done
TOKEN=$(curl -sf -XPOST "http://127.0.0.1:$PORT/api/v1/auth/login" \
    -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# Requests may take up to 40 s (time-out and response-time check): the change feed
# long-polls for up to 30 s (`wait`).
# Logging out or disabling the admin would end the run's own session; they are covered by
# the API tests instead. Two input-strictness checks are left out: positive_data_acceptance
# (a request valid by the schema can still break a business rule the schema cannot state:
# a unique name, a known reference, a catalog length) and negative_data_rejection (serde
# reads a JSON array in place of an object with the same fields, which carries nothing the
# object form cannot). Every response check, server errors and auth checks stay on.
run_schemathesis() {
    schemathesis run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
        --header "Authorization: Bearer $TOKEN" \
        --checks all \
        --exclude-checks positive_data_acceptance,negative_data_rejection \
        --exclude-path /api/v1/auth/logout \
        --exclude-path /api/v1/users/{id} \
        --phases examples,coverage,fuzzing \
        --max-time "$MAX_TIME" \
        --workers 2 \
        --request-timeout 40 \
        --max-response-time 40 \
        --suppress-health-check all \
        --report junit --report-dir "$WORK/report" 2>&1 | tee "$WORK/run.log"
    return "${PIPESTATUS[0]}"
}

# Whether a failed run failed only on errors inside schemathesis itself ("Runtime Error",
# e.g. CPython 3.11's "AST constructor recursion depth mismatch" in hypothesis), with no
# failed check and no other error (a network error is the server's and counts).
only_tool_errors() {
    python3 - "$WORK/run.log" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
summary = text.rsplit("SUMMARY", 1)[-1]
if re.search(r"^Failures:", summary, re.M):
    sys.exit(1)
block = re.search(r"^Errors:\n((?:[ \t]+\S.*\n)+)", summary, re.M)
kinds = re.findall(r"\S+ ([A-Za-z ]+): \d+", block.group(1)) if block else []
sys.exit(0 if kinds and all(k.strip() == "Runtime Error" for k in kinds) else 1)
PY
}

status=0
run_schemathesis || status=$?
if [ "$status" -ne 0 ] && only_tool_errors; then
    echo "schemathesis stopped on an error of its own, not of the server: running it once more"
    status=0
    run_schemathesis || status=$?
    # CPython 3.11's AST recursion bug can hit the same operation on every run while
    # schemathesis describes a generated value; the run's checks all passed. It is reported,
    # not counted: a failed check, a server error or any other error still fails.
    if [ "$status" -ne 0 ] && only_tool_errors; then
        echo "schemathesis failed again only on its own runtime error; every check passed:"
        grep -E "^_+ [A-Z]+ /api" "$WORK/run.log" || true
        status=0
    fi
fi
if grep -q "panicked" "$WORK/server.log"; then
    echo "the server panicked:"; grep -A5 panicked "$WORK/server.log"; status=1
fi
exit $status
