#!/usr/bin/env bash
# Vendor the front-end assets custos serves from its binary (no CDN at run time, no
# download at build time). Re-run to update; the versions are recorded in
# crates/custos-web/assets/vendor/VERSIONS.
set -euo pipefail
cd "$(dirname "$0")/.."
SWAGGER_UI_VERSION="${SWAGGER_UI_VERSION:-5.17.14}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
npm install --no-save --no-audit --no-fund --prefix "$tmp" "swagger-ui-dist@${SWAGGER_UI_VERSION}" >/dev/null
src="$tmp/node_modules/swagger-ui-dist"
dest=crates/custos-web/assets/vendor/swagger-ui
mkdir -p "$dest"
cp "$src/swagger-ui-bundle.js" "$src/swagger-ui.css" "$src/LICENSE" "$dest/"
# Drop the source-map reference: the map is not shipped.
sed -i '/^\/\/# sourceMappingURL=/d' "$dest/swagger-ui-bundle.js"
sed -i 's#/\*\# sourceMappingURL=.*\*/##' "$dest/swagger-ui.css"
version=$(node -p "require('$src/package.json').version")
cat > crates/custos-web/assets/vendor/VERSIONS <<TXT
# Vendored front-end packages (npm), written by scripts/vendor-assets.sh
swagger-ui-dist ${version}
TXT
echo "vendored swagger-ui-dist ${version}"
