#!/usr/bin/env bash
# Issue 6's GPU checks in one command, on a machine with an NVIDIA GPU, torch and transformers (the device machine):
# the gpu-labelled tests, logits vs the CPU backend and transformers (Qwen2.5-0.5B- and 1.5B-shaped random models),
# then bench_cuda_engine next to transformers' generate on the same models. Run from the repo root after building
# with CUDA (build/); the output goes to stdout (and $OUT when set) for docs/benchmarks.md.
# usage: scripts/gpu/bench_cuda.sh [build-dir]
#   on the device machine, from the bundle of scripts/gpu/pack.sh (carry .gpu):
#   source scripts/gpu/bundle_env.sh && bash scripts/gpu/bench_cuda.sh "$LLMFLEET_BUILD"
set -euo pipefail
build=${1:-build}
out=${OUT:-/tmp}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
# The gpu tests by binary (not ctest): the bundle of scripts/gpu/pack.sh has no CTest files.
for t in "$build"/tests/test_cuda_* "$build"/tests/test_nccl_comm; do
    [ -x "$t" ] || continue
    echo "== $(basename "$t")"
    rc=0
    "$t" --gtest_brief=1 2>&1 || rc=$?
    case $rc in
    0) ;;
    77) echo "SKIPPED: $(basename "$t") (no CUDA device visible)" ;;
    *) echo "FAILED: $(basename "$t") exit $rc" ;;
    esac
done 2>&1 | tee "$out/gpu_tests.txt" | grep -E "^==|FAILED|PASSED|SKIPPED" | head -40
models=()
for preset in qwen2.5-0.5b qwen2.5-1.5b; do
    dir=/tmp/llmfleet-bench/$preset
    [ -f "$dir/config.json" ] || "$build/bin/llmfleet" make-model --preset "$preset" --out "$dir" >/dev/null
    models+=("$dir")
done
python3 scripts/gpu/compare_transformers.py "$build/bin/llmfleet" "${models[@]}" 2>&1 | tee "$out/compare.txt"
for dir in "${models[@]}"; do
    echo "== $dir"
    "$build/bin/bench_cuda_engine" --model "$dir" 2>&1 | tee -a "$out/bench_cuda.txt"
    python3 scripts/gpu/hf_generate_bench.py "$dir" 2>&1 | tee -a "$out/bench_hf.txt"
done
