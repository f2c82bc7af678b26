#!/usr/bin/env bash
# Packs what the GPU scripts run for the device machine, which has the CUDA toolkit but none of our Debian -dev
# packages, and takes at most 64 MiB of working tree per call (a RelWithDebInfo build/ is gigabytes): the stripped
# binaries (llmfleet, serve_matrix, bench_cuda_engine) and gpu test binaries, plus the shared libraries they load
# that are neither glibc/libstdc++ (newer there) nor CUDA's (the machine has its own), into one .gpu/bundle.tar.xz.
# On the device machine, `source scripts/gpu/bundle_env.sh` unpacks it and sets LD_LIBRARY_PATH.
#
# usage: scripts/gpu/pack.sh [build-dir]      then: run(..., carry=[".gpu"]); .gpu/ is git-ignored
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
stage=$(mktemp -d /tmp/llmfleet-pack.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/tests" "$stage/lib" .gpu

bins=()
for b in llmfleet serve_matrix bench_cuda_engine; do
    [ -x "$build/bin/$b" ] || { echo "pack: $build/bin/$b is missing: build first (bash scripts/setup.sh)" >&2; exit 1; }
    bins+=("$build/bin/$b")
done
for t in "$build"/tests/test_cuda_* "$build"/tests/test_nccl_comm; do
    [ -x "$t" ] && bins+=("$t")
done
if ! nm -C "$build/bin/llmfleet" 2>/dev/null | grep cuda_model_runner >/dev/null; then
    echo "pack: $build/bin/llmfleet has no CUDA backend (configure with -DLLMFLEET_CUDA=ON)" >&2
    exit 1
fi

for b in "${bins[@]}"; do
    dest=$stage/bin
    [[ $b == */tests/* ]] && dest=$stage/tests
    cp "$b" "$dest/"
    strip "$dest/$(basename "$b")"
done

# Libraries: every one ldd resolves, except the C runtime (the device's glibc/libstdc++ are newer and compatible) and
# CUDA's own (cudart, cuBLAS, NCCL: the device has them; NCCL and cuBLASLt alone are ~700 MiB).
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libpthread\.|libdl\.|librt\.|libgcc_s\.|libstdc\+\+\.|libcuda\.|libcudart\.|libcublas|libnccl)'
for b in "${bins[@]}"; do
    ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
    [[ $name =~ $skip ]] && continue
    cp -L "$path" "$stage/lib/$name"
done

tar -C "$stage" -cJf .gpu/bundle.tar.xz bin tests lib
git rev-parse HEAD >.gpu/commit 2>/dev/null || true
echo "pack: .gpu/bundle.tar.xz $(du -h .gpu/bundle.tar.xz | cut -f1) ($(ls "$stage/bin" "$stage/tests" | grep -vc ':$') \
binaries, $(ls "$stage/lib" | wc -l) libraries; unpacked $(du -sh "$stage" | cut -f1)); carry .gpu"
