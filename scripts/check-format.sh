#!/bin/sh
# Fails when a tracked C++ file does not follow .clang-format, showing the first differences;
# `scripts/check-format.sh --fix` rewrites the files in place instead.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files '*.h' '*.cpp')
if [ "${1:-}" = --fix ]; then
  echo "$files" | xargs clang-format -i
  exit 0
fi
report=$(echo "$files" | xargs clang-format --dry-run 2>&1)
if [ -n "$report" ]; then
  echo "$report" | head -40 >&2
  echo "$(echo "$report" | grep -c 'warning:') place(s) do not follow .clang-format: run scripts/check-format.sh --fix" >&2
  exit 1
fi
