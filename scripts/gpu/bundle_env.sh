# Sourced on the device machine (bash): unpacks .gpu/bundle.tar.xz (scripts/gpu/pack.sh) into /tmp/llmfleet-gpu,
# adds its lib/ and the CUDA libraries the machine has (toolkit, and PyTorch's pip wheels for NCCL and cuBLAS) to
# LD_LIBRARY_PATH, and sets LLMFLEET_BUILD=/tmp/llmfleet-gpu, which holds bin/ and tests/ like a build directory
# (and LLMFLEET_TEST_SCRATCH for the tests' files).
# Prints what the loader still cannot find, so a missing library is the first line of the output, not a crash.
#
# usage (one device call): source scripts/gpu/bundle_env.sh && bash scripts/gpu/bench_mps.sh "$LLMFLEET_BUILD"
LLMFLEET_BUILD=/tmp/llmfleet-gpu
rm -rf "$LLMFLEET_BUILD" && mkdir -p "$LLMFLEET_BUILD" && tar -C "$LLMFLEET_BUILD" -xJf .gpu/bundle.tar.xz || {
    echo "bundle_env: cannot unpack .gpu/bundle.tar.xz (run scripts/gpu/pack.sh here and carry .gpu)" >&2
    return 1
}
llmfleet_cuda_dirs=$LLMFLEET_BUILD/lib
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -d "$d" ] && llmfleet_cuda_dirs=$llmfleet_cuda_dirs:$d
done
llmfleet_site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null || true)
for d in "$llmfleet_site"/nvidia/*/lib; do
    [ -d "$d" ] && llmfleet_cuda_dirs=$llmfleet_cuda_dirs:$d
done
export LD_LIBRARY_PATH=$llmfleet_cuda_dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LLMFLEET_BUILD
export LLMFLEET_TEST_SCRATCH=$LLMFLEET_BUILD/scratch # the tests' temp files (their build tree is not here)
mkdir -p "$LLMFLEET_TEST_SCRATCH"
echo "bundle_env: $(cat .gpu/commit 2>/dev/null || echo '?') unpacked in $LLMFLEET_BUILD"
for b in "$LLMFLEET_BUILD"/bin/* "$LLMFLEET_BUILD"/tests/*; do
    missing=$(ldd "$b" 2>/dev/null | grep 'not found' | awk '{print $1}' | tr '\n' ' ')
    [ -n "$missing" ] && echo "bundle_env: $(basename "$b") cannot find: $missing"
done
true
