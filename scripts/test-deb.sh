#!/usr/bin/env bash
# The Debian package on a fresh Debian bookworm: install, start the service, open the API
# docs, log in, create a code rule and a customer through the API, take a backup, upgrade
# to a newer package, check everything is still there, purge without losing the data.
#
#   scripts/test-deb.sh BINARY
#
# Needs root and debootstrap (installed with apt-get when missing); skips with a message
# otherwise. The minimal bookworm (debootstrap --variant=minbase, with systemd) is cached
# as a tarball in $CUSTOS_DEB_TEST_CACHE (default /var/cache/custos-test), so a second run
# takes seconds to set up. The service is started by booting the tree with
# systemd-nspawn when that works here; where it cannot boot (a sandbox without cgroup
# delegation, no systemd-nspawn), the unit's ExecStart is run as the user custos in a
# chroot instead, and the output says so.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:?usage: scripts/test-deb.sh BINARY}
bin=$(readlink -f "$bin")
# A port nothing listens on (another server answering /readyz would fool the test).
free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$(( 20000 + RANDOM % 20000 ))
        if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then echo "$p"; return; fi
    done
    echo 28080
}
port=${CUSTOS_DEB_TEST_PORT:-$(free_port)}
cache=${CUSTOS_DEB_TEST_CACHE:-/var/cache/custos-test}
mirror=${CUSTOS_DEB_TEST_MIRROR:-http://deb.debian.org/debian}
tarball="$cache/bookworm-minbase-systemd.tar.gz"
admin_pw='Quokka-Saffron-Lattice-19'
started=$(date +%s)

say() { printf '== %s\n' "$*"; }
skip() { printf 'test-deb: SKIPPED: %s\n' "$*"; exit 0; }
die() { printf 'test-deb: FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, chroot)"
if ! command -v debootstrap >/dev/null 2>&1; then
    apt-get install -y -qq debootstrap >/dev/null 2>&1 || skip "debootstrap is not installed and cannot be"
fi
for tool in curl jq dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is missing"
done

work=$(mktemp -d /var/tmp/custos-deb-test.XXXXXX)
root="$work/root"
nspawn_pid=""
serve_pid=""
cleanup() {
    set +e
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    [ -n "$nspawn_pid" ] && kill "$nspawn_pid" 2>/dev/null && wait "$nspawn_pid" 2>/dev/null
    for m in "$root/proc" "$root/dev/pts" "$root/dev"; do
        mountpoint -q "$m" && umount -l "$m"
    done
    rm -rf "$work"
}
trap cleanup EXIT

say "packages: the binary as version 1 and, unchanged, as a newer version 2"
base=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
deb1=$(scripts/build-deb.sh "$bin" "$base-1" "$work/debs")
deb2=$(scripts/build-deb.sh "$bin" "$base-2" "$work/debs")
dpkg-deb --info "$deb1" | sed -n 's/^ \(Package\|Version\|Installed-Size\|Depends\):/   \1:/p'

say "a fresh Debian bookworm (minbase + systemd)"
mkdir -p "$root" "$cache"
if [ -s "$tarball" ]; then
    tar -C "$root" -xzf "$tarball"
else
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,init-system-helpers,ca-certificates \
        bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log"; die "debootstrap"; }
    rm -rf "$root"/var/cache/apt/archives/*.deb
    tar -C "$root" -czf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
fi
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

say "install $(basename "$deb1")"
cp "$deb1" "$deb2" "$root/root/"  # not /tmp: a booted system mounts a tmpfs there
in_root dpkg -i "/root/$(basename "$deb1")" >"$work/dpkg1.log" 2>&1 || { cat "$work/dpkg1.log"; die "dpkg -i"; }
in_root getent passwd custos | grep -q nologin || die "no system user custos"
[ "$(in_root stat -c '%U %a' /var/lib/custos)" = "custos 700" ] || die "/var/lib/custos not custos 0700"
[ "$(in_root stat -c '%U:%G %a' /etc/custos/custos.toml)" = "root:custos 640" ] || die "custos.toml not root:custos 0640"
[ "$(in_root stat -c '%U %a' /etc/custos/backup.pass)" = "root 600" ] || die "backup.pass not root 0600"
[ -L "$root/etc/systemd/system/multi-user.target.wants/custos.service" ] || die "custos.service not enabled"
[ -L "$root/etc/systemd/system/timers.target.wants/custos-backup.timer" ] || die "custos-backup.timer not enabled"
echo "   user custos, /var/lib/custos 0700, /etc/custos/custos.toml 0640 root:custos, units enabled"

if command -v systemd-analyze >/dev/null 2>&1; then
    say "systemd-analyze verify (units as installed)"
    if out=$(systemd-analyze verify --root="$root" custos.service custos-backup.service custos-backup.timer 2>&1); then
        echo "   units verify"
    else
        # Only a complaint about the units themselves fails the test (not the sandbox's).
        echo "$out" | sed 's/^/   /'
        if echo "$out" | grep -E '^custos[-a-z]*\.(service|timer):' ; then die "unit files have errors"; fi
    fi
fi

# Test settings: a free port, a known first password (CUSTOS_ADMIN_PASSWORD in custos.env).
sed -i "s/^listen = .*/listen = \"127.0.0.1:$port\"/" "$root/etc/custos/custos.toml"
echo "CUSTOS_ADMIN_PASSWORD=$admin_pw" >> "$root/etc/custos/custos.env"

booted=no
machine="custos-test-$$"
container_pid() { pgrep -P "$nspawn_pid" -x systemd 2>/dev/null | head -n1; }
in_boot() { nsenter --target "$(container_pid)" --mount --uts --ipc --pid -- /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
start_fallback() {
    mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
    mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
    # As custos.service would run it: the user custos, its environment and ExecStart.
    chroot --userspec=custos:custos "$root" /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8 \
        CUSTOS_CONFIG=/etc/custos/custos.toml CUSTOS_ADMIN_PASSWORD="$admin_pw" \
        /bin/sh -c 'umask 0077; exec /usr/bin/custos serve' >>"$work/serve.log" 2>&1 &
    serve_pid=$!
}
stop_fallback() {
    kill -TERM "$serve_pid" && wait "$serve_pid" || true
    serve_pid=""
}
wait_ready() {
    for _ in $(seq 1 120); do
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    [ -f "$work/serve.log" ] && tail -20 "$work/serve.log"
    [ "$booted" = yes ] && in_boot journalctl -u custos --no-pager | tail -20
    die "custos did not become ready on port $port"
}

say "start the service"
if command -v systemd-nspawn >/dev/null 2>&1 && [ "${CUSTOS_DEB_TEST_NSPAWN:-yes}" = yes ]; then
    systemd-nspawn --quiet --boot --keep-unit --register=no --machine="$machine" -D "$root" \
        >"$work/nspawn.log" 2>&1 &
    nspawn_pid=$!
    for _ in $(seq 1 60); do
        if [ -n "$(container_pid)" ] && in_boot systemctl is-system-running --quiet --wait 2>/dev/null; then
            booted=yes; break
        fi
        kill -0 "$nspawn_pid" 2>/dev/null || break
        sleep 0.5
    done
    # "degraded" (a unit of the sandbox failed) still boots; what matters is custos.
    if [ "$booted" = no ] && [ -n "$(container_pid)" ] && in_boot systemctl is-active --quiet custos.service 2>/dev/null; then
        booted=yes
    fi
    if [ "$booted" = no ]; then
        echo "   systemd-nspawn --boot did not come up here:"
        tail -5 "$work/nspawn.log" | sed 's/^/     /'
        kill "$nspawn_pid" 2>/dev/null; wait "$nspawn_pid" 2>/dev/null || true
        nspawn_pid=""
    fi
fi
if [ "$booted" = yes ]; then
    echo "   booted with systemd-nspawn; systemctl start custos"
    in_boot systemctl start custos.service
    in_boot systemctl is-active custos.service
else
    echo "   FALLBACK: systemd cannot boot in this sandbox; running the unit's ExecStart" \
         "(/usr/bin/custos serve) as the user custos in a chroot instead"
    start_fallback
fi
wait_ready
echo "   /readyz answers"

api() { curl -sS --fail-with-body -H 'content-type: application/json' ${token:+-H "authorization: Bearer $token"} "$@"; }
u="http://127.0.0.1:$port"
say "API docs, login, a code rule and a customer through the API"
curl -fsS "$u/docs" | grep -qi '<html' || die "/docs is not a page"
curl -fsS "$u/api/v1/openapi.json" | jq -e '.openapi' >/dev/null || die "no OpenAPI document"
token=$(api -X POST "$u/api/v1/auth/login" -d "{\"username\":\"admin\",\"password\":\"$admin_pw\"}" | jq -r .token)
[ -n "$token" ] && [ "$token" != null ] || die "login"
api -X POST "$u/api/v1/code-rules" -d '{"key":"pkg-test","name":"安装测试","applies_to":{"customer_types":["enterprise"]},"segments":[{"kind":"constant","value":"PK"},{"kind":"sequence","width":5}]}' >/dev/null
api -X POST "$u/api/v1/code-rules/pkg-test/publish" -d '{}' >/dev/null
code=$(api -X POST "$u/api/v1/customers" -d '{"customer_type":"enterprise","name":"安装测试科技有限公司"}' | jq -r .code)
[ "$code" = PK00001 ] || die "expected the code PK00001, got $code"
echo "   customer $code created"
# The install guide's first rule, by the command line as the service user (which reads
# /etc/custos/custos.toml without being told); a draft, since pkg-test covers enterprises.
chroot --userspec=custos:custos "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/var/lib/custos \
    /usr/bin/custos rule add /usr/share/doc/custos/examples/rules/by-type.toml >/dev/null \
    || die "custos rule add of the packaged example"
api "$u/api/v1/code-rules/by-type" | jq -e '.versions[0].status == "draft"' >/dev/null || die "by-type not added"
echo "   the packaged example rule by-type added by the command line as the user custos"

say "backup (custos-backup.service)"
if [ "$booted" = yes ]; then
    in_boot systemctl start custos-backup.service || { in_boot journalctl -u custos-backup --no-pager | tail; die "backup service"; }
else
    # As the unit would: the user custos, the passphrase as a credential file.
    install -d -m 0700 -o "$(in_root id -u custos)" "$root/run/credentials/custos-backup.service"
    install -m 0400 -o "$(in_root id -u custos)" "$root/etc/custos/backup.pass" "$root/run/credentials/custos-backup.service/backup.pass"
    chroot --userspec=custos:custos "$root" /usr/bin/env -i PATH=/usr/bin:/bin \
        CUSTOS_CONFIG=/etc/custos/custos.toml CREDENTIALS_DIRECTORY=/run/credentials/custos-backup.service \
        /usr/lib/custos/custos-backup
fi
backup=$(ls "$root"/var/backups/custos/custos-*.backup 2>/dev/null | head -n1)
[ -n "$backup" ] || die "no backup in /var/backups/custos"
grep -q '"encryption"' <(head -c 4096 "$backup") || die "the backup is not encrypted"
echo "   $(basename "$backup"), encrypted, $(stat -c %s "$backup") bytes"
# The backup restores (into a scratch directory, checked end to end).
in_root /usr/bin/custos --data-dir /tmp/restore-check restore "/var/backups/custos/$(basename "$backup")" \
    --passphrase-file /etc/custos/backup.pass >/dev/null 2>&1 || die "the backup does not restore"
echo "   it restores (checksum, decryption, audit chain)"

say "upgrade to $(basename "$deb2")"
if [ "$booted" = yes ]; then
    in_boot dpkg -i "/root/$(basename "$deb2")" >"$work/dpkg2.log" 2>&1 || { cat "$work/dpkg2.log"; die "upgrade"; }
else
    stop_fallback
    in_root dpkg -i "/root/$(basename "$deb2")" >"$work/dpkg2.log" 2>&1 || { cat "$work/dpkg2.log"; die "upgrade"; }
    start_fallback
fi
[ "$(in_root dpkg-query -W -f='${Version}' custos)" = "$base-2" ] || die "version after the upgrade"
grep -q "^listen = \"127.0.0.1:$port\"" "$root/etc/custos/custos.toml" || die "the changed configuration was not kept"
wait_ready
token=$(api -X POST "$u/api/v1/auth/login" -d "{\"username\":\"admin\",\"password\":\"$admin_pw\"}" | jq -r .token)
[ "$(api "$u/api/v1/customers/$code" | jq -r .name)" = "安装测试科技有限公司" ] || die "the customer is gone after the upgrade"
next=$(api -X POST "$u/api/v1/customers" -d '{"customer_type":"enterprise","name":"升级后科技有限公司"}' | jq -r .code)
[ "$next" = PK00002 ] || die "expected PK00002 after the upgrade, got $next"
echo "   $code still there, the next code is $next"

say "custos doctor (as root, for the service user custos)"
# The chroot lives on the host's file system, so the disk check reads the host's free
# space: a host short of disk may fail that one check (it is right to), never another.
in_root /usr/bin/env CUSTOS_CONFIG=/etc/custos/custos.toml /usr/bin/custos doctor | sed 's/^/   /' || true
doctor_json=$(in_root /usr/bin/env CUSTOS_CONFIG=/etc/custos/custos.toml /usr/bin/custos --json doctor || true)
echo "$doctor_json" | jq -e '.findings | length > 0' >/dev/null || die "doctor --json printed no findings"
failed=$(echo "$doctor_json" | jq -r '[.findings[] | select(.status == "fail") | .check] | join(" ")')
if [ "$failed" = disk ]; then
    host_free_kib=$(df -Pk "$root" | awk 'NR == 2 { print $4 }')
    host_pct=$(df -Pk "$root" | awk 'NR == 2 { print int($4 * 100 / $2) }')
    { [ "$host_free_kib" -lt $((1024 * 1024)) ] || [ "$host_pct" -lt 2 ]; } \
        || die "doctor fails the disk check although the host has ${host_free_kib} KiB (${host_pct} %) free"
    echo "   (the host itself is short of disk: ${host_free_kib} KiB free; only that check failed)"
    echo "$doctor_json" | jq -e '.ok == false' >/dev/null || die "doctor --json says ok with a failed check"
elif [ -n "$failed" ]; then
    die "doctor reports a failure: $failed"
else
    echo "$doctor_json" | jq -e .ok >/dev/null || die "doctor --json not ok"
fi

say "purge keeps the data unless asked"
if [ "$booted" = yes ]; then
    in_boot dpkg --purge custos >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; die "purge"; }
    in_boot systemctl is-active --quiet custos.service && die "custos still runs after the purge"
else
    stop_fallback
    in_root dpkg --purge custos >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; die "purge"; }
fi
[ -s "$root/var/lib/custos/custos.db" ] || die "the purge removed /var/lib/custos"
[ -e "$root/etc/custos/custos.toml" ] && die "the purge left /etc/custos/custos.toml"
ls "$root"/var/backups/custos/custos-*.backup >/dev/null || die "the purge removed the backups"
grep -h "kept the data" "$work/purge.log" | sed 's/^/   /'
# Asked: installed again, then purged with CUSTOS_PURGE_DATA=yes, the data goes too.
if [ "$booted" = yes ]; then
    in_boot dpkg -i "/root/$(basename "$deb2")" >"$work/dpkg3.log" 2>&1 || { cat "$work/dpkg3.log"; die "reinstall"; }
    in_boot CUSTOS_PURGE_DATA=yes dpkg --purge custos >"$work/purge2.log" 2>&1 || { cat "$work/purge2.log"; die "purge with data"; }
else
    in_root dpkg -i "/root/$(basename "$deb2")" >"$work/dpkg3.log" 2>&1 || { cat "$work/dpkg3.log"; die "reinstall"; }
    in_root CUSTOS_PURGE_DATA=yes dpkg --purge custos >"$work/purge2.log" 2>&1 || { cat "$work/purge2.log"; die "purge with data"; }
fi
[ -e "$root/var/lib/custos" ] && die "CUSTOS_PURGE_DATA=yes left /var/lib/custos"
echo "   with CUSTOS_PURGE_DATA=yes the data directory and backups are removed"

mode=$([ "$booted" = yes ] && echo "systemd-nspawn boot" || echo "chroot fallback, no systemd")
echo "test-deb: PASSED in $(( $(date +%s) - started )) s ($mode)"
