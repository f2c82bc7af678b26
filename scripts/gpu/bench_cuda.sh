#!/usr/bin/env bash
# Issue 6's GPU checks in one command, on a machine with an NVIDIA GPU, torch and transformers (the device machine):
# the gpu-labelled tests, logits vs the CPU backend and transformers (Qwen2.5-0.5B- and 1.5B-shaped random models),
# then bench_cuda_engine next to transformers' generate on the same models. Run from the repo root after building
# with CUDA (build/); the output goes to stdout (and $OUT when set) for docs/benchmarks.md.
# usage: scripts/gpu/bench_cuda.sh [build-dir]
set -euo pipefail
build=${1:-build}
out=${OUT:-/tmp}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
ctest --test-dir "$build" -L gpu --output-on-failure 2>&1 | tee "$out/gpu_tests.txt" | tail -30
models=()
for preset in qwen2.5-0.5b qwen2.5-1.5b; do
    dir=/tmp/llmfleet-bench-$preset
    [ -f "$dir/config.json" ] || "$build/bin/llmfleet" make-model --preset "$preset" --out "$dir" >/dev/null
    models+=("$dir")
done
python3 scripts/gpu/compare_transformers.py "$build/bin/llmfleet" "${models[@]}" 2>&1 | tee "$out/compare.txt"
for dir in "${models[@]}"; do
    echo "== $dir"
    "$build/bin/bench_cuda_engine" --model "$dir" 2>&1 | tee -a "$out/bench_cuda.txt"
    python3 scripts/gpu/hf_generate_bench.py "$dir" 2>&1 | tee -a "$out/bench_hf.txt"
done
