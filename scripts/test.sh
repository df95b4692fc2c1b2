#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. the Release build with -Werror: unit tests, integration tests (real binary, real peers);
#   2. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer, and every
#      integration test against the sanitized binary (latency bounds scaled, memory bounds left
#      to stage 1: see SANITIZED in tests/integration/harness.py); a report in its log fails it;
#   3. each codec's libFuzzer target for a short bounded run over its seed corpus (clang).
# First, two checks of the tree: an include that points up a layer, or a C++ file that does not
# follow .clang-format, fails the run before any build.
# Exits non-zero on the first failing stage. RPCGATE_TEST_QUICK=1 skips stages 2 and 3.
# RPCGATE_TEST_BUSY=1 runs it all beside a CPU hog (one busy process, ended with the run, at most
# 2 hours), to show the suite holds on a loaded machine.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --with-tests
jobs=$(nproc)

if [ "${RPCGATE_TEST_BUSY:-0}" = 1 ]; then
  timeout 7200 sh -c 'while :; do :; done' &
  hog=$!
  trap 'kill "$hog" 2>/dev/null || true' EXIT
  echo "test.sh: a CPU hog runs beside the suite (pid $hog)"
fi

stage() { printf '\n=== %s ===\n' "$*"; }

stage "Layers and layout: no include points up, every file follows .clang-format"
./scripts/check-layers.sh
./scripts/check-format.sh

stage "Release build and all tests"
./scripts/build.sh -DRPCGATE_WERROR=ON
ctest --test-dir build --output-on-failure -j"$jobs"

[ "${RPCGATE_TEST_QUICK:-0}" = 1 ] && exit 0

stage "Unit and integration tests under ASan + UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRPCGATE_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit
# test_legacy_prefork checks the Python reference server in bench/; rpcgate has no part in it.
# test_status_page checks the page's script in chromium and test_contrib_monitoring the files in
# contrib/: the C++ they reach (the admin pages) is sanitized through test_admin. test_package
# checks the Debian package (debian/, the install rules, lintian), which the Release stage has
# built and run; it exercises no C++ the other tests leave out.
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -L integration -E 'legacy_prefork|status_page|contrib_monitoring|test_package'

stage "Fuzz targets (bounded smoke runs)"
CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRPCGATE_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_all
ctest --test-dir build-fuzz --output-on-failure -j"$jobs" -L fuzz
