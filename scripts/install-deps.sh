#!/usr/bin/env bash
# Installs, as root on Debian 12, every package rpcgate needs to build and test.
# Idempotent: asks apt only for what dpkg says is missing, so a second run does nothing.
set -euo pipefail

build_packages=(
  build-essential cmake pkg-config
  libuv1-dev libhiredis-dev libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libyaml-cpp-dev
)
test_packages=(
  doctest-dev redis-tools redis-server python3 python3-protobuf python3-redis
  clang libclang-rt-14-dev
)

wanted=("${build_packages[@]}")
[ "${1:-}" = "--with-tests" ] && wanted+=("${test_packages[@]}")

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or install them yourself)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
