#!/usr/bin/env bash
# The Redis differential tester (tests/redis_diff/README.md): the same client sessions against a
# real redis-server and through rpcgate in front of another one; every difference is printed as
# a shrunk, replayable transcript.
#
#   scripts/redis-diff.sh --minutes 3 --seed 7     # a longer random run
#   scripts/redis-diff.sh --bounded                # what ctest runs (~60 s)
#   scripts/redis-diff.sh --replay FILE.json       # one saved transcript again
#   scripts/redis-diff.sh --build ...              # run scripts/build.sh first (incremental)
#
# The binary is $RPCGATE_BIN (default build/rpcgate); it is built when missing. Every other
# option goes to tests/redis_diff/redis_diff.py (--help lists them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
args=()
build=0
for arg in "$@"; do
  if [ "$arg" = "--build" ]; then build=1; else args+=("$arg"); fi
done
export RPCGATE_BIN=${RPCGATE_BIN:-$root/build/rpcgate}
export RPCGATE_SOURCE_DIR=$root
if [ "$build" = 1 ] || [ ! -x "$RPCGATE_BIN" ]; then
  "$root/scripts/build.sh"
fi
exec /usr/bin/python3 "$root/tests/redis_diff/redis_diff.py" "${args[@]+"${args[@]}"}"
