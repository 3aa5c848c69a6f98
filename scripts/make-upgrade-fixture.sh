#!/usr/bin/env bash
# Make the upgrade fixtures of a release: a data directory written by that release's binary
# on SQLite, and a plain pg_dump of a PostgreSQL database it wrote, each holding the demo
# data (departments, users per role, customers with activities) plus a few changes made
# over the API (a person with encrypted identifiers, a merge, an application).
#
#   scripts/make-upgrade-fixture.sh BINARY OUTDIR [POSTGRES_SERVER_URL]
#
# OUTDIR receives sqlite/{custos.db.gz,pii.key}, postgres/{dump.sql.gz,pii.key} and facts.json
# (what the upgrade test checks). The PostgreSQL half needs psql/pg_dump and a server
# (default postgres://postgres@127.0.0.1:5432); it is left out without them.
# crates/custos/tests/upgrade.rs opens these with the current code.
set -euo pipefail
BIN=$(realpath "$1"); OUT=$2; PG=${3:-postgres://postgres@127.0.0.1:5432}
PASSWORD=Quokka-Saffron-Lattice-19
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$OUT"

# Start a server on DATA_DIR [DATABASE_URL], add the API changes, stop it.
fill() {
    local dir=$1 url=${2:-} port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    local args=(serve --demo --listen "127.0.0.1:$port" --data-dir "$dir")
    [ -n "$url" ] && args+=(--database-url "$url")
    CUSTOS_ADMIN_PASSWORD=$PASSWORD "$BIN" "${args[@]}" > "$work/serve.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 120); do curl -sf "localhost:$port/readyz" >/dev/null && break; sleep 0.5; done
    local api="localhost:$port/api/v1"
    local token
    token=$(curl -sf "$api/auth/login" -H 'content-type: application/json' \
        -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" | jq -r .token)
    local auth=(-H "authorization: Bearer $token" -H 'content-type: application/json')
    local person
    person=$(curl -sf "$api/customers" "${auth[@]}" -d '{"customer_type":"individual",
        "name":"王嘉天","id_number":"11010519491231002X","mobile":"13912345678",
        "address":"北京市朝阳区建国路88号3单元501","reason":"升级样本"}' | jq -r .code)
    curl -sf "$api/merges" "${auth[@]}" \
        -d '{"survivor":"C00000001","merged":["C00000002"],"fields":{"uscc":"C00000001"},"reason":"升级样本：合并"}' >/dev/null
    curl -sf "$api/applications" "${auth[@]}" -d '{"kind":"grant_permission",
        "payload":{"user_id":2,"role":"executive","expires_at":"2030-01-01T00:00:00Z"},
        "reason":"升级样本：申请"}' >/dev/null
    local customers events
    customers=$(curl -sf "$api/customers?limit=1&total=true" "${auth[@]}" | jq .total)
    events=$(curl -sf "$api/events?after=0&limit=1000" "${auth[@]}" | jq '.events | length')
    kill "$pid"; wait "$pid" || true
    jq -n --arg person "$person" --argjson customers "$customers" --argjson events "$events" \
        --arg version "$("$BIN" --version)" --arg password "$PASSWORD" \
        '{version: $version, admin_password: $password, person: $person,
          merged: "C00000002", survivor: "C00000001", customers: $customers,
          events_at_least: $events}'
}

fill "$work/sqlite" > "$OUT/facts.json"
mkdir -p "$OUT/sqlite"
sqlite_copy() { python3 - "$1" "$2" <<'PY'
import sqlite3, sys
src = sqlite3.connect(sys.argv[1]); dst = sqlite3.connect(sys.argv[2])
src.backup(dst); dst.execute("VACUUM"); dst.close(); src.close()
PY
}
sqlite_copy "$work/sqlite/custos.db" "$work/custos.db"
gzip -9 -n -c "$work/custos.db" > "$OUT/sqlite/custos.db.gz"
cp "$work/sqlite/pii.key" "$OUT/sqlite/pii.key"

if command -v psql >/dev/null && command -v pg_dump >/dev/null && psql "$PG/postgres" -qc 'select 1' >/dev/null 2>&1; then
    db="custos_fixture_$$"
    psql "$PG/postgres" -qc "CREATE DATABASE $db"
    fill "$work/pg" "$PG/$db" > "$work/pg-facts.json"
    mkdir -p "$OUT/postgres"
    pg_dump --no-owner --no-privileges "$PG/$db" | gzip -9 -n > "$OUT/postgres/dump.sql.gz"
    cp "$work/pg/pii.key" "$OUT/postgres/pii.key"
    jq -s '.[0] + {postgres: .[1]}' "$OUT/facts.json" "$work/pg-facts.json" > "$work/all.json"
    mv "$work/all.json" "$OUT/facts.json"
    psql "$PG/postgres" -qc "DROP DATABASE $db"
else
    echo "no PostgreSQL client or server: the PostgreSQL fixture is left out" >&2
fi
ls -la "$OUT" "$OUT"/*/
