#!/usr/bin/env bash
# Build the Debian package of custos from an already built binary, with dpkg-deb alone
# (no cargo-deb, no debhelper: seconds, not minutes, in CI).
#
#   scripts/build-deb.sh BINARY [VERSION] [OUTDIR]
#
# VERSION defaults to the workspace version with Debian revision 1 (0.1.0-1); OUTDIR to
# target/debian. Prints the path of the .deb it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:?usage: scripts/build-deb.sh BINARY [VERSION] [OUTDIR]}
version=${2:-$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)-1}
out=${3:-target/debian}
arch=$(dpkg --print-architecture)
[ -x "$bin" ] || { echo "build-deb: $bin is not an executable" >&2; exit 2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/custos"
src=packaging/debian

install -D -m 0755 "$bin" "$root/usr/bin/custos"
# Debug builds carry their symbols; a package is smaller without.
if command -v strip >/dev/null 2>&1; then strip --strip-debug "$root/usr/bin/custos" || true; fi
install -D -m 0755 "$src/custos-backup" "$root/usr/lib/custos/custos-backup"
for unit in custos.service custos-backup.service custos-backup.timer; do
    install -D -m 0644 "$src/$unit" "$root/lib/systemd/system/$unit"
done
install -D -m 0640 "$src/custos.toml" "$root/etc/custos/custos.toml"
install -D -m 0640 "$src/custos.env" "$root/etc/custos/custos.env"
doc="$root/usr/share/doc/custos"
install -D -m 0644 docs/zh/install.md "$doc/install.md"
install -D -m 0644 docs/install.md "$doc/install.en.md"
install -D -m 0644 docs/backup.md "$doc/backup.md"
install -D -m 0644 README.md "$doc/README.md"
for f in examples/rules/*; do install -D -m 0644 "$f" "$doc/examples/rules/$(basename "$f")"; done
gzip -9n -c CHANGELOG.md > "$doc/changelog.gz"
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: custos
Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

mkdir -p "$root/DEBIAN"
install -m 0755 "$src/postinst" "$src/prerm" "$src/postrm" "$root/DEBIAN/"
install -m 0644 "$src/conffiles" "$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: custos
Version: $version
Architecture: $arch
Maintainer: custos maintainers <custos@example.invalid>
Section: misc
Priority: optional
Installed-Size: $size
Depends: libc6 (>= 2.34), libgcc-s1, passwd
Recommends: ca-certificates
Suggests: postgresql-client
Description: customer master data and customer codes (客户主数据与编码管理系统)
 custos keeps one correct, traceable code and one trustworthy record for every
 customer: code rules, code issuing, duplicate check, merge and split, approval
 flows, import and export, a hash-chained audit log, backup, and an HTTP API
 with a web console. Embedded SQLite by default, PostgreSQL for scale-out.
 .
 This package runs "custos serve" as the system user custos (custos.service) and
 takes a daily encrypted backup (custos-backup.timer).
CONTROL
(cd "$root" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' \
    | sort -z | xargs -0 md5sum > DEBIAN/md5sums)

mkdir -p "$out"
deb="$out/custos_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip -z6 --build "$root" "$deb" >/dev/null
echo "$deb"
