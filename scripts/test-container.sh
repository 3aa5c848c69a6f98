#!/usr/bin/env bash
# The container image and the compose example: build the image, bring up PostgreSQL, two
# custos servers and nginx, log in through nginx, create a code rule and a customer, see
# both servers answer, then tear everything down (volumes too).
#
#   scripts/test-container.sh
#
# Skips with a message when no Docker daemon answers (`docker info`) or compose is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { printf 'test-container: SKIPPED: %s\n' "$*"; exit 0; }
die() { printf 'test-container: FAILED: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || skip "no docker client"
docker info >/dev/null 2>&1 || skip "no Docker daemon answers (docker info failed)"
docker compose version >/dev/null 2>&1 || skip "no docker compose plugin"
command -v jq >/dev/null 2>&1 || skip "jq is missing"

port=${CUSTOS_CONTAINER_TEST_PORT:-$(( 20000 + RANDOM % 20000 ))}
project="custos-test-$$"
dir=deploy/compose
secrets="$dir/secrets"
made_secrets=no
if [ ! -d "$secrets" ]; then
    made_secrets=yes
    mkdir -m 0700 "$secrets"
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$secrets/db_password"
    head -c 32 /dev/urandom | base64 > "$secrets/pii.key"
    printf '%s' 'Quokka-Saffron-Lattice-19' > "$secrets/admin_password"
    chmod 0444 "$secrets"/*
fi
admin_pw=$(cat "$secrets/admin_password")
# The example as it is, published on a free port.
sed "s/\"8080:80\"/\"$port:80\"/" "$dir/compose.yaml" > "$dir/compose.test.yaml"
compose() { docker compose -p "$project" -f "$dir/compose.test.yaml" "$@"; }
cleanup() {
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    rm -f "$dir/compose.test.yaml"
    if [ "$made_secrets" = yes ]; then rm -rf "$secrets"; fi
}
trap cleanup EXIT

echo "== docker build"
docker build -q -t custos:local . >/dev/null
echo "== image: non-root, volume, health check"
[ "$(docker image inspect custos:local -f '{{.Config.User}}')" = custos ] || die "the image does not run as custos"
docker image inspect custos:local -f '{{json .Config.Volumes}}' | grep -q /var/lib/custos || die "no volume"
docker image inspect custos:local -f '{{json .Config.Healthcheck}}' | grep -q healthcheck || die "no health check"

echo "== compose up (PostgreSQL, two custos, nginx on port $port)"
compose up -d --wait --wait-timeout 300 || { compose logs --tail 40; die "compose up"; }

u="http://127.0.0.1:$port"
curl -fsS "$u/readyz" >/dev/null || die "/readyz through nginx"
curl -fsS "$u/docs" | grep -qi '<html' || die "/docs through nginx"
api() { curl -sS --fail-with-body -H 'content-type: application/json' ${token:+-H "authorization: Bearer $token"} "$@"; }
token=$(api -X POST "$u/api/v1/auth/login" -d "{\"username\":\"admin\",\"password\":\"$admin_pw\"}" | jq -r .token)
[ -n "$token" ] && [ "$token" != null ] || die "login through nginx"
api -X POST "$u/api/v1/code-rules" -d '{"key":"ct","name":"容器测试","applies_to":{"customer_types":["enterprise"]},"segments":[{"kind":"constant","value":"CT"},{"kind":"sequence","width":5}]}' >/dev/null
api -X POST "$u/api/v1/code-rules/ct/publish" -d '{}' >/dev/null
codes=""
for i in 1 2 3 4; do
    codes="$codes $(api -X POST "$u/api/v1/customers" -d "{\"customer_type\":\"enterprise\",\"name\":\"容器测试${i}号有限公司\"}" | jq -r .code)"
done
[ "$codes" = " CT00001 CT00002 CT00003 CT00004" ] || die "codes through two servers: $codes"
echo "   codes$codes (requests spread over both servers, one sequence)"
for s in custos1 custos2; do
    compose exec -T "$s" /usr/bin/custos healthcheck >/dev/null 2>&1 || die "$s not healthy"
done
echo "test-container: PASSED"
