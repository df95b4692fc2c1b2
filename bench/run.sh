#!/usr/bin/env bash
# The one-command benchmark (issue 7; docs/benchmarks.md, "One command: bench/run.sh"). Installs
# what is missing (scripts/install-deps.sh --with-bench: as root, and only when something is
# missing), builds rpcgate as Release into build/ (or $RPCGATE_BENCH_BUILD), then runs bench/run.py
# with the arguments given here.
#   bench/run.sh                     # the full run, about 15 min: docs/benchmark-results.md and .svg
#   bench/run.sh --quick             # a smoke run of a few minutes at most, unpinned, one round
#   bench/run.sh --only ping,proxy   # some sections; bench/run.py --help lists the options
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --with-bench
build="${RPCGATE_BENCH_BUILD:-build}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)"
exec /usr/bin/python3 bench/run.py --rpcgate "$build/rpcgate" "$@"
