#!/usr/bin/env bash
# Vendor the front-end assets custos serves from its binary (no CDN at run time, no
# download at build time, no Node.js needed to build custos). Re-run to update; versions and
# licences are recorded in crates/custos-web/assets/vendor/VERSIONS.
set -euo pipefail
cd "$(dirname "$0")/.."
SWAGGER_UI_VERSION="${SWAGGER_UI_VERSION:-5.17.14}"
# htmx 2.x: the console's small interactions (hints, partial reloads). 4.x changed the
# attribute semantics the pages rely on.
HTMX_VERSION="${HTMX_VERSION:-2.0.11}"
ECHARTS_VERSION="${ECHARTS_VERSION:-6.1.0}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
npm install --no-save --no-audit --no-fund --prefix "$tmp" \
  "swagger-ui-dist@${SWAGGER_UI_VERSION}" "htmx.org@${HTMX_VERSION}" \
  "echarts@${ECHARTS_VERSION}" >/dev/null
vendor=crates/custos-web/assets/vendor

src="$tmp/node_modules/swagger-ui-dist"
dest="$vendor/swagger-ui"
mkdir -p "$dest"
cp "$src/swagger-ui-bundle.js" "$src/swagger-ui.css" "$src/LICENSE" "$dest/"
# Drop the source-map reference: the map is not shipped.
sed -i '/^\/\/# sourceMappingURL=/d' "$dest/swagger-ui-bundle.js"
sed -i 's#/\*\# sourceMappingURL=.*\*/##' "$dest/swagger-ui.css"

src="$tmp/node_modules/htmx.org"
dest="$vendor/htmx"
mkdir -p "$dest"
cp "$src/dist/htmx.min.js" "$src/LICENSE" "$dest/"

src="$tmp/node_modules/echarts"
dest="$vendor/echarts"
mkdir -p "$dest"
cp "$src/dist/echarts.min.js" "$src/LICENSE" "$src/NOTICE" "$dest/"
sed -i '/^\/\/# sourceMappingURL=/d' "$dest/echarts.min.js"

version() { node -p "require('$tmp/node_modules/$1/package.json').version"; }
licence() { node -p "require('$tmp/node_modules/$1/package.json').license"; }
{
  echo "# Vendored front-end packages (npm), written by scripts/vendor-assets.sh"
  echo "# package version licence"
  for p in swagger-ui-dist htmx.org echarts; do
    echo "$p $(version "$p") $(licence "$p")"
  done
} > "$vendor/VERSIONS"
cat "$vendor/VERSIONS"
