#!/usr/bin/env bash
# Installs llmfleet's Debian build dependencies (idempotent: apt-get runs only when one is missing),
# then configures and builds into build/. In CI (CI=true) warnings are errors.
# Usage: setup.sh [--test]   (--test also installs python3-torch, and tests/reference's npm packages when npm
#                             exists, for the independent reference checks)
# Options via environment: LLMFLEET_BUILD_TYPE (RelWithDebInfo), LLMFLEET_CMAKE_ARGS (extra -D flags).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build ccache pkg-config git
          libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
          coinor-libcbc-dev libopenblas-dev libpcre2-dev libicu-dev libboost-dev
          openmpi-bin libopenmpi-dev) # MPI: `--comm mpi` (multi-process tensor/pipeline parallelism) and its tests
if [ "${1:-}" = "--test" ]; then
    packages+=(python3-torch python3-numpy) # tests/reference: the independent forward pass
    packages+=(curl)                        # tests/serve: HTTP-level checks of `llmfleet engine`
    # tests/reference/*.mjs: the independent tokenizers (tokenizers.js, js-tiktoken) run on node
    command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# tests/reference/node_modules: tokenizers.js, js-tiktoken and @huggingface/jinja for the tokenizer cross-check,
# and the official openai client for the server's end-to-end tests.
if [ "${1:-}" = "--test" ] && [ ! -f tests/reference/node_modules/openai/package.json ] &&
    command -v npm >/dev/null 2>&1; then
    (cd tests/reference && npm ci --no-audit --no-fund) ||
        echo "setup: WARNING: npm ci in tests/reference failed; test_tokenizer_crosscheck will be skipped" >&2
fi

# ccache keys paths under the checkout relative to it (and ignores the working directory that -g would add), so a
# fresh clone in another folder — CI's — hits the cache an earlier build on this machine filled.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true

werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
# shellcheck disable=SC2086
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${LLMFLEET_BUILD_TYPE:-RelWithDebInfo}" \
      -DLLMFLEET_WERROR="$werror" ${LLMFLEET_CMAKE_ARGS:-} >/dev/null
cmake --build build --parallel "$(nproc)"
