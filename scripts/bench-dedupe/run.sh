#!/usr/bin/env bash
# Duplicate-detection benchmark: custos dedupe vs Splink (DuckDB) on Febrl and on generated
# Chinese data. Usage: scripts/bench-dedupe/run.sh [SIZES...]   (default: 10000 100000 1000000)
# Env: VENV (default /tmp/venv-dedupe), WORK (default /tmp/bench-dedupe), THRESHOLD (0.9),
#      SPLINK_MAX (largest size Splink is run on, default 1000000), SKIP_BUILD=1 to use an
#      existing $CARGO_TARGET_DIR/release/custos.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-/tmp/venv-dedupe}"
WORK="${WORK:-/tmp/bench-dedupe}"
THRESHOLD="${THRESHOLD:-0.9}"
SPLINK_MAX="${SPLINK_MAX:-1000000}"
SIZES=("${@:-10000 100000 1000000}")
read -r -a SIZES <<< "${SIZES[*]}"
mkdir -p "$WORK"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q recordlinkage splink pypinyin opencc-python-reimplemented psutil
fi
PY="$VENV/bin/python"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[ -n "${SKIP_BUILD:-}" ] || (cd "$ROOT" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR" cargo build --release -p custos)
CUSTOS="$CARGO_TARGET_DIR/release/custos"

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB RAM"
echo "# splink $("$PY" -c 'import splink; print(splink.__version__)'), duckdb $("$PY" -c 'import duckdb; print(duckdb.__version__)')"

"$PY" "$HERE/export_febrl.py" "$WORK"
for n in "${SIZES[@]}"; do
  [ -f "$WORK/cn$n.csv" ] || "$PY" "$HERE/gen_chinese.py" --n "$n" --seed 5 --out "$WORK/cn$n.csv"
done

# measure NAME CMD...: wall seconds and peak RSS (MiB) from /usr/bin/time -v.
measure() {
  local name=$1; shift
  local log="$WORK/$name.time"
  if ! /usr/bin/time -v "$@" 2> "$log" >/dev/null; then
    tail -5 "$log" >&2
    echo "failed failed"
    return 0
  fi
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$log" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/{printf "%.0f", $2/1024}' "$log")
  grep -E "records|splink:" "$log" | head -2 >&2 || true
  echo "$wall $rss"
}

row() { # data-set tool clusters truth-csv [cross] wall rss: one row, and one per customer type
  local set=$1 tool=$2 clusters=$3 truth=$4 cross=${5:-} wall=$6 rss=$7 load
  local args=("$truth" record_id true_cluster "$clusters")
  if [ -n "$cross" ]; then args+=(--cross source); else args+=(--by customer_type); fi
  local m
  m=$("$PY" "$HERE/evaluate.py" "${args[@]}")
  load=$(cut -d' ' -f1 /proc/loadavg)
  "$PY" -c "
import json, sys
m = json.loads(sys.argv[1]); s, t, w, r, l = sys.argv[2:7]
print(f'| {s} | {t} | {m[\"records\"]} | {m[\"precision\"]:.4f} | {m[\"recall\"]:.4f} | {m[\"f1\"]:.4f} | {w} | {r} | {l} |')
for k, v in m.get('by', {}).items():
    if len(m['by']) > 1:
        print(f'| {s} ({k}) | {t} | {v[\"records\"]} | {v[\"precision\"]:.4f} | {v[\"recall\"]:.4f} | {v[\"f1\"]:.4f} | | | |')
" "$m" "$set" "$tool" "$wall" "$rss" "$load"
}

echo
echo "| data set | tool | records | precision | recall | F1 | wall s | peak MiB | load (1 min) |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for set in febrl3 febrl4; do
  cross=""; [ "$set" = febrl4 ] && cross=1
  read -r w r < <(measure "custos-$set" "$CUSTOS" dedupe --input "$WORK/$set.csv" --id-column record_id --output "$WORK/custos-$set.csv" --threshold "$THRESHOLD")
  row "$set" custos "$WORK/custos-$set.csv" "$WORK/$set.csv" "$cross" "$w" "$r"
  read -r w r < <(measure "splink-$set" "$PY" "$HERE/run_splink.py" --kind febrl --input "$WORK/$set.csv" --output "$WORK/splink-$set.csv" --threshold "$THRESHOLD")
  row "$set" splink "$WORK/splink-$set.csv" "$WORK/$set.csv" "$cross" "$w" "$r"
done
for n in "${SIZES[@]}"; do
  set="cn$n"
  read -r w r < <(measure "custos-$set" "$CUSTOS" dedupe --input "$WORK/$set.csv" --id-column record_id --output "$WORK/custos-$set.csv" --threshold "$THRESHOLD")
  row "chinese-$n" custos "$WORK/custos-$set.csv" "$WORK/$set.csv" "" "$w" "$r"
  if [ "$n" -le "$SPLINK_MAX" ]; then
    read -r w r < <(measure "splink-$set" "$PY" "$HERE/run_splink.py" --kind chinese --input "$WORK/$set.csv" --output "$WORK/splink-$set.csv" --threshold "$THRESHOLD")
    if [ "$w" != failed ]; then
      row "chinese-$n" splink "$WORK/splink-$set.csv" "$WORK/$set.csv" "" "$w" "$r"
    else
      echo "| chinese-$n | splink | $n | failed, see $WORK/splink-$set.time | | | | | |"
    fi
  fi
done
