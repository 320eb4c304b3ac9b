#!/usr/bin/env bash
# Issue 8's GPU evaluation sweeps, run on the GPU host inside the bundle of tools/eval-bundle.sh:
#   BUNDLE=.gpu-bundle bash tools/eval-device-run.sh [check] [needle] [wikitext] [longbench]
# (default: all four, in that order). Each step has a wall-clock cap and the whole run a total cap,
# so one slow config cannot eat the others' time; a capped config keeps what it finished (results
# are JSON lines, appended per unit) and a later run resumes it (see "Resuming" below).
#   check      kvwalk-eval batch-check: 48 WikiText-2 windows of 2048 tokens as one batch vs the first
#              alone, per GPU policy at budget 0.2 (h2o first): bit-identical NLL or not (the walker is
#              expected to differ; the others differ only if the engine's attention split count,
#              which depends on batch size and capacity, changes the rounding) and ms per decode step
#   needle     packages/eval/configs/gpu-needle-4096.json   (passkey, 4096 tokens, 5 depths x 20)
#   wikitext   packages/eval/configs/gpu-wikitext-all.json  (all 93 WikiText-2 test windows)
#   longbench  packages/eval/configs/gpu-longbench-gen.json (multi_news generation, ROUGE-L)
#   walkers    packages/eval/configs/gpu-wikitext-walkers.json (not in the default list: the walker at
#              1024 walkers per graph vs the engine's default density, 5 visits per slot, budgets 0.1 / 0.2)
#   slack      packages/eval/configs/gpu-wikitext-slack.json (not in the default list): every policy at a 20%
#              cache compacted before each append (the oracle's schedule) vs 64 slots at a time (the
#              runtime throughput bench's lazy schedule), all WikiText-2 test windows
#   oracle-tie packages/eval/configs/gpu-wikitext-oracle-tie.json (not in the default list): full,
#              streaming, h2o, tova and pagerank-top4 (exact PageRank in place of the walker) on the first
#              16 WikiText-2 test windows at 10% / 20%, the windows and policies of the oracle's committed
#              causal study (packages/oracle/results/causal-wikitext): node packages/eval/dist/tools/oracle-tie.js
#   gqa        packages/eval/configs/gpu-gqa-graph-heads.json (not in the default list): the walker's
#              graphs per query head vs per KV head (createEngine graphHeads) on a grouped-query stand-in,
#              fixture-lm with its 6 KV heads mean-pooled to 3 (no uptraining), plus full / streaming /
#              h2o, budgets 0.1 / 0.2, all WikiText-2 test windows. The step first writes the stand-in
#              with `kvwalk-model pool-kv-heads` into $KVWALK_SHARED/models/fixture-lm-gqa3 (the
#              bundle's shared copy; about a second), which the config names as models/fixture-lm-gqa3.
#   gqa2       the same at 2 KV heads (groups of 3): configs/gpu-gqa-graph-heads-kv2.json, fixture-lm-gqa2
# Each config runs as SHARDS processes (`--shard i/n`, whole batches per shard) with CONCURRENCY
# batches in flight per process, then `kvwalk-eval report` writes its report.
# Results: $RESULTS/<config>/ (default packages/eval/report-gpu/<config>/), archived with the logs
# into $OUT/eval-gpu.tar.gz (relative to packages/eval: unpack it there with
# `tar xzf eval-gpu.tar.gz -C packages/eval`).
# Resuming: the results folder is an untracked, not ignored folder of the working tree, so after
# unpacking the archive here, the next device run gets it and runs only the missing units.
# Environment: BUNDLE (.gpu-bundle), RESULTS, OUT, TOTAL_CAP (seconds, default 560), CHECK_CAP (45),
# NEEDLE_CAP (150), WIKI_CAP (175), LB_CAP (150), NEEDLE_SHARDS/NEEDLE_CONC (2/4: GPU-bound, batches
# of one process share a CUDA context, so their small kernels can overlap), WIKI_SHARDS/WIKI_CONC
# (8/1: host-bound, the NLL of every token is computed on the CPU), LB_SHARDS/LB_CONC (2/4); gqa and
# gqa2 use WIKI_SHARDS/WIKI_CONC and GQA_CAP (175).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUNDLE:-.gpu-bundle}
[ -f "$B/node.xz" ] || { echo "no bundle at $B (build it with tools/eval-bundle.sh)" >&2; exit 2; }
B=$(cd "$B" && pwd)
mkdir -p "$B/bin" && xz -dc "$B/node.xz" > "$B/bin/node" && chmod +x "$B/bin/node" && export PATH=$B/bin:$PATH
find "$B/shared" -name '*.xz' | while read -r f; do [ -f "${f%.xz}" ] || xz -dk "$f"; done
find "$B/packages" -name '*.node.xz' -exec xz -dkf {} \;  # addons travel compressed (tools/gpu-bundle.mjs)
export KVWALK_SHARED=$B/shared
export KVWALK_COMMIT=$(cat "$B/COMMIT" 2>/dev/null || echo unknown)
if [ -z "${KVWALK_CUBLAS:-}" ]; then
  KVWALK_CUBLAS=$(find /usr/local /usr/lib /usr/lib64 /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
  [ -n "$KVWALK_CUBLAS" ] || KVWALK_CUBLAS=$(find / -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
fi
export KVWALK_CUBLAS
export UV_THREADPOOL_SIZE=16
for f in models/fixture-lm/config.json models/fixture-lm/tokenizer.json data/wikitext-2-raw/wiki.test.raw data/wikitext-2-raw/wiki.valid.raw data/longbench/multi_news.jsonl; do
  [ -f "$KVWALK_SHARED/$f" ] || { echo "missing $KVWALK_SHARED/$f (build the bundle with tools/eval-bundle.sh)" >&2; exit 2; }
done
CLI=(node "$B/packages/eval/dist/cli.js")
RES=${RESULTS:-packages/eval/report-gpu}
FINAL=${OUT:-$PWD/out}
mkdir -p "$FINAL" "$RES"
LOG=$RES/device-run.log
exec > >(tee -a "$LOG") 2>&1
trap 'sleep 1; tar czf "$FINAL/eval-gpu.tar.gz" -C "$(dirname "$RES")" "$(basename "$RES")"; echo "archive: $FINAL/eval-gpu.tar.gz ($(du -h "$FINAL/eval-gpu.tar.gz" | cut -f1))"' EXIT
DEADLINE=$((SECONDS + ${TOTAL_CAP:-560}))
echo "== $(date -u +%FT%TZ) commit $KVWALK_COMMIT, node $(node --version), cublas: ${KVWALK_CUBLAS:-none}, $(nproc) cores"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | tee "$RES/nvidia-smi.csv"

# Seconds left for a step: its own cap, but never past the total deadline (minus 15 s for reports and the archive).
cap_for() {
  local left=$((DEADLINE - SECONDS - 15))
  [ "$1" -lt "$left" ] && echo "$1" || echo "$left"
}

run_config() {
  local name=$1 cap shards=$3 conc=$4
  cap=$(cap_for "$2")
  local cfg=packages/eval/configs/$name.json out=$RES/$name
  if [ "$cap" -lt 10 ]; then
    echo "== $name: skipped (no time left before the total cap)"
    return
  fi
  mkdir -p "$out/logs"
  cp "$cfg" "$out/config.json"
  local plan total
  plan=$("${CLI[@]}" run --config "$cfg" --out "$out" --dry-run | tail -2)
  total=$(echo "$plan" | grep -o '^[0-9]* units' | cut -d' ' -f1)
  echo "== $name: $shards shards x $conc batches in flight, cap ${cap}s; plan: $(echo "$plan" | tr '\n' ' ')"
  local start=$SECONDS pids=() i
  for ((i = 0; i < shards; i++)); do
    timeout --signal=TERM --kill-after=10 "$cap" "${CLI[@]}" run --config "$cfg" --out "$out" --shard "$i/$shards" --concurrency "$conc" --no-report >"$out/logs/shard-$i.log" 2>&1 &
    pids+=($!)
  done
  local last=$SECONDS alive p
  while :; do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 1 ] || break
    sleep 2
    if [ $((SECONDS - last)) -ge 15 ]; then
      last=$SECONDS
      echo "   $name: $(cat "$out"/results*.jsonl 2>/dev/null | wc -l)/$total units after $((SECONDS - start)) s"
    fi
  done
  local rc status=""
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}"
    rc=$?
    status+=" $i:$rc"
    [ $rc = 0 ] || tail -3 "$out/logs/shard-$i.log" | sed "s/^/   shard $i: /"
  done
  local done_units
  done_units=$(cat "$out"/results*.jsonl 2>/dev/null | wc -l)
  echo "== $name: $done_units/$total units in $((SECONDS - start)) s (exit codes$status; 124 = capped, rerun to resume)"
  grep -h "^  [a-z0-9-]*: .* s per unit" "$out"/logs/shard-*.log | sort | sed "s/^/   /" || true
  "${CLI[@]}" report --config "$cfg" --out "$out" | tail -1
}

# Writes the grouped-query stand-in models/fixture-lm-<kv>KV into the bundle's shared folder (once).
pool_model() {
  local dir=$KVWALK_SHARED/models/fixture-lm-gqa$1
  [ -f "$dir/config.json" ] && return 0
  echo "== pooling fixture-lm's KV heads 6 -> $1 into $dir"
  node "$B/packages/model/dist/cli.js" pool-kv-heads "$KVWALK_SHARED/models/fixture-lm" "$dir" --kv-heads "$1"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(check needle wikitext longbench)
for s in "${steps[@]}"; do
  case $s in
    check)
      cap=$(cap_for "${CHECK_CAP:-45}")
      echo "== batch-check (cap ${cap}s)"
      timeout --signal=TERM --kill-after=5 "$cap" "${CLI[@]}" batch-check --config packages/eval/configs/gpu-wikitext-all.json --batch 48 --length 2048 --out "$RES/batch-check.json"
      echo "   exit $?"
      ;;
    needle) run_config gpu-needle-4096 "${NEEDLE_CAP:-150}" "${NEEDLE_SHARDS:-2}" "${NEEDLE_CONC:-4}" ;;
    wikitext) run_config gpu-wikitext-all "${WIKI_CAP:-175}" "${WIKI_SHARDS:-8}" "${WIKI_CONC:-1}" ;;
    longbench) run_config gpu-longbench-gen "${LB_CAP:-150}" "${LB_SHARDS:-2}" "${LB_CONC:-4}" ;;
    walkers) run_config gpu-wikitext-walkers "${WIKI_CAP:-175}" "${WIKI_SHARDS:-8}" "${WIKI_CONC:-1}" ;;
    oracle-tie) run_config gpu-wikitext-oracle-tie "${WIKI_CAP:-175}" "${WIKI_SHARDS:-8}" "${WIKI_CONC:-1}" ;;
    slack) run_config gpu-wikitext-slack "${WIKI_CAP:-175}" "${WIKI_SHARDS:-8}" "${WIKI_CONC:-1}" ;;
    gqa) pool_model 3 && run_config gpu-gqa-graph-heads "${GQA_CAP:-175}" "${WIKI_SHARDS:-8}" "${WIKI_CONC:-1}" ;;
    gqa2) pool_model 2 && run_config gpu-gqa-graph-heads-kv2 "${GQA_CAP:-175}" "${WIKI_SHARDS:-8}" "${WIKI_CONC:-1}" ;;
    *) echo "unknown step $s (check, needle, wikitext, longbench, walkers, slack, oracle-tie, gqa, gqa2)" >&2 ;;
  esac
done
echo "== done after $SECONDS s"
