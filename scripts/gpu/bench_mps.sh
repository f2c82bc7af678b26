#!/usr/bin/env bash
# Issue 7's GPU table in one command, on a machine with one NVIDIA GPU (the device machine): for Qwen2.5-0.5B-, 1.5B-
# and 3B-shaped random models, `llmfleet serve` with 1 engine, 2 and 3 engines under MPS, and 2 engines without MPS
# on GPU 0, each driven by `llmfleet bench` with 128 in / 128 out (64 users) and 1024 in / 16 out (32 users) closed
# loops (bench/e2e/serve_matrix). Prints the Markdown table for docs/benchmarks.md; four files go to $OUT (or /tmp):
# gpu.txt, serve_matrix.json (rows and table, rewritten after every cell), serve_matrix.log and serve_logs.txt (the
# tail of every serve's log). If the MPS daemon cannot run here, its rows carry serve's error and the other rows are
# still measured.
#
# usage: scripts/gpu/bench_mps.sh [build-dir] [preset ...]      (default presets: qwen2.5-0.5b qwen2.5-1.5b qwen2.5-3b)
# env:   REQUESTS (256 per cell), WARMUP (8), FLEETS (1,2:mps,3:mps,2:nomps), WORKLOADS (128x128@64,1024x16@32),
#        MODELS_DIR (/tmp/llmfleet-bench: model MODELS_DIR/<preset>, made once with `llmfleet make-model`),
#        DEADLINE_S (560: seconds from the script's start after which no serve starts, less a cell's ~90 s)
# Run from the repo root after building with CUDA (build/ with bin/llmfleet and bin/serve_matrix); on the device
# machine, from the bundle of scripts/gpu/pack.sh (carry .gpu):
#   source scripts/gpu/bundle_env.sh && bash scripts/gpu/bench_mps.sh "$LLMFLEET_BUILD"
set -euo pipefail
build=${1:-build}
[ $# -gt 0 ] && shift
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(qwen2.5-0.5b qwen2.5-1.5b qwen2.5-3b)
out=${OUT:-/tmp}
models_dir=${MODELS_DIR:-/tmp/llmfleet-bench}
for bin in "$build/bin/llmfleet" "$build/bin/serve_matrix"; do
    [ -x "$bin" ] || { echo "$bin is missing: build first (bash scripts/setup.sh)" >&2; exit 1; }
done

nvidia-smi --query-gpu=name,memory.total,driver_version,compute_mode --format=csv,noheader | tee "$out/gpu.txt" || true
if ! command -v nvidia-cuda-mps-control >/dev/null 2>&1; then
    echo "note: nvidia-cuda-mps-control is not on PATH: the MPS rows will carry serve's error" | tee -a "$out/gpu.txt"
fi

# The models, made once per machine (the same folders as bench_cuda.sh's) and in parallel: make-model's draws are
# sequential per model, so three at once use the cores that one leaves idle.
model_flags=()
start=$SECONDS
for preset in "${presets[@]}"; do
    dir=$models_dir/$preset
    [ -f "$dir/config.json" ] || "$build/bin/llmfleet" make-model --preset "$preset" --out "$dir" >/dev/null &
    model_flags+=(--model "$dir")
done
wait # a failed make-model shows as serve_matrix's "no config.json there" error
echo "models ready in $((SECONDS - start)) s"

run_root=/tmp/smx # short: the MPS pipe sockets live under it
# No new serve once the call's deadline nears (a device call is cut at 600 s; a serve and its benches take up to ~90 s):
# the cells left out are rows saying so, and serve_matrix.json is rewritten after every cell anyway.
budget_s=$(( ${DEADLINE_S:-560} - SECONDS - 90 ))
[ "$budget_s" -lt 1 ] && budget_s=1
status=0
"$build/bin/serve_matrix" "${model_flags[@]}" --host-kind gpu --gpu 0 \
    --fleets "${FLEETS:-1,2:mps,3:mps,2:nomps}" --workloads "${WORKLOADS:-128x128@64,1024x16@32}" \
    --requests "${REQUESTS:-256}" --warmup "${WARMUP:-8}" --run-root "$run_root" --out "$out/serve_matrix.json" \
    --budget-s "$budget_s" 2>"$out/serve_matrix.log" || status=$?
for log in "$run_root"/*/serve.log; do # one file: the device machine returns at most 8 files from $OUT
    [ -f "$log" ] || continue
    echo "== $(basename "$(dirname "$log")") (model index-engines[-mps])"
    tail -n 40 "$log"
done >"$out/serve_logs.txt"
tail -n 5 "$out/serve_matrix.log"
exit $status
