#!/usr/bin/env bash
# Runs the libFuzzer targets for longer than CI's 30 s smoke runs, one after another.
#   scripts/fuzz.sh                       every target, 10 minutes each
#   scripts/fuzz.sh 3600 resp_server     one target (fuzz_ prefix optional), one hour
# New inputs go to build-fuzz/tests/fuzz/corpus/<target>/ (kept between runs, never the sources);
# a crash, a leak or a hang leaves its input in build-fuzz/fuzz-artifacts/<target>/, the script
# goes on with the next target and exits 1 at the end. Copy an input worth keeping into
# tests/fuzz/corpus/<target>/ by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
seconds=${1:-600}
shift || true
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: the first argument is seconds per target, got '$seconds'" >&2; exit 2; }

./scripts/install-deps.sh --with-tests
CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRPCGATE_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_all >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for source in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$source" .cpp)"); done
fi

failed=()
for target in "${targets[@]}"; do
  target=fuzz_${target#fuzz_}
  binary=build-fuzz/tests/fuzz/$target
  [ -x "$binary" ] || { echo "fuzz.sh: no target $target (see tests/fuzz/)" >&2; exit 2; }
  work=build-fuzz/tests/fuzz/corpus/$target
  artifacts=build-fuzz/fuzz-artifacts/$target
  log=$artifacts.log
  mkdir -p "$work" "$artifacts"
  echo "=== $target: $seconds s" >&2
  # -timeout: an input that takes 5 s is a hang worth keeping; -rss_limit_mb bounds a run.
  status=0
  # A target with no committed seeds (fuzz_grpc_server) wrote its seed into $work when it was built.
  seeds=()
  [ -d "tests/fuzz/corpus/$target" ] && seeds=("tests/fuzz/corpus/$target")
  "$binary" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" "${seeds[@]}" >"$log" 2>&1 || status=$?
  grep -E '^(Done|stat::average_exec_per_sec|==[0-9]+==ERROR|SUMMARY)' "$log" || true
  [ "$status" -eq 0 ] || { failed+=("$target"); echo "$target failed (status $status): see $log" >&2; }
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failures in ${failed[*]}; inputs in build-fuzz/fuzz-artifacts/" >&2
  exit 1
fi
