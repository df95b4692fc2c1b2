#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. the Release build with -Werror (GCC): unit tests, integration tests (real binary, real peers);
#   2. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer (clang, -Werror too),
#      and every integration test against the sanitized binary (latency bounds scaled, memory bounds
#      left to stage 1: see SANITIZED in tests/integration/harness.py); a report in its log fails it;
#   3. each codec's libFuzzer target for a short bounded run over its seed corpus (clang).
# First, two checks of the tree: an include that points up a layer, or a C++ file that does not
# follow .clang-format, fails the run before any build.
# The trees of stages 2 and 3 build in the background at the lowest priority while the stage
# before runs its tests: integration tests run one at a time and mostly wait on sockets, and they
# are made to hold on a busy machine (below). Three builds in a row would not fit CI's time.
# Exits non-zero on the first failing stage. RPCGATE_TEST_QUICK=1 skips stages 2 and 3.
# RPCGATE_TEST_BUSY=1 runs it all beside a CPU hog (one busy process, ended with the run, at most
# 2 hours), to show the suite holds on a loaded machine.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --with-tests
jobs=$(nproc)

# What runs in the background, by name: a process group of its own, ended with the run however it
# ends (its pid is its group's id).
declare -A background=()
trap 'for pid in "${background[@]}"; do kill -- "-$pid" 2>/dev/null || true; done' EXIT
in_background() {
  local name=$1
  shift
  setsid "$@" &
  background[$name]=$!
}

if [ "${RPCGATE_TEST_BUSY:-0}" = 1 ]; then
  in_background hog timeout 7200 sh -c 'while :; do :; done'
  echo "test.sh: a CPU hog runs beside the suite (pid ${background[hog]})"
fi

# Configures a tree (cmake arguments after the tree and its target), then builds it in the
# background at nice 19 into <tree>/build.log; finish_build waits for it and shows that log if it failed.
start_build() {
  local tree=$1 target=$2
  shift 2
  cmake -S . -B "$tree" "$@" >/dev/null
  in_background "$tree" nice -n 19 cmake --build "$tree" -j"$jobs" --target "$target" >"$tree/build.log" 2>&1
}
finish_build() {
  local tree=$1 pid=${background[$1]}
  unset "background[$tree]"
  if ! wait "$pid"; then
    tail -n 60 "$tree/build.log"
    echo "test.sh: building $tree failed (its log: $tree/build.log)" >&2
    exit 1
  fi
  echo "test.sh: $tree built"
}

stage() { printf '\n=== %s ===\n' "$*"; }

stage "Layers and layout: no include points up, every file follows .clang-format"
./scripts/check-layers.sh
./scripts/check-format.sh

stage "Release build and all tests"
./scripts/build.sh -DRPCGATE_WERROR=ON
quick=${RPCGATE_TEST_QUICK:-0}
# Line tables (-g1) are all a sanitizer's report needs, and link far faster than full debug info.
[ "$quick" = 1 ] || CXX=clang++ start_build build-asan all \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DRPCGATE_SANITIZE=ON -DRPCGATE_WERROR=ON
ctest --test-dir build --output-on-failure -j"$jobs"

[ "$quick" = 1 ] && exit 0

stage "Unit and integration tests under ASan + UBSan"
finish_build build-asan
CXX=clang++ start_build build-fuzz fuzz_all -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRPCGATE_FUZZ=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit
# test_legacy_prefork checks the Python reference server in bench/; rpcgate has no part in it.
# test_status_page checks the page's script in chromium and test_contrib_monitoring the files in
# contrib/: the C++ they reach (the admin pages) is sanitized through test_admin. test_package
# checks the Debian package (debian/, the install rules, lintian), which the Release stage has
# built and run; it exercises no C++ the other tests leave out. test_bench_grpc drives thousands
# of gRPC calls at once to see every path answer in full: a sanitized rpcgate that slow times them
# out, and the paths it takes are those test_grpc*.py sanitize.
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -L integration \
  -E 'legacy_prefork|status_page|contrib_monitoring|test_package|test_bench_grpc'

stage "Fuzz targets (bounded smoke runs)"
finish_build build-fuzz
ctest --test-dir build-fuzz --output-on-failure -j"$jobs" -L fuzz
