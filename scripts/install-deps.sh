#!/usr/bin/env bash
# Installs, as root on Debian 12, every package rpcgate needs to build and test.
# Idempotent: asks apt only for what dpkg says is missing, so a second run does nothing.
#   scripts/install-deps.sh                 build packages only
#   scripts/install-deps.sh --with-tests    also what the tests need (CI runs this)
#   scripts/install-deps.sh --with-bench    also what the tests need, plus what bench/run.sh
#                                           uses: the peers (twemproxy, HAProxy, nginx, a C++
#                                           gRPC server), h2load and gnuplot
set -euo pipefail

build_packages=(
  build-essential cmake pkg-config
  libuv1-dev libhiredis-dev libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libyaml-cpp-dev libzookeeper-st-dev libhttp-parser-dev
  # the grpc codec: HTTP/2 through nghttp2's I/O-free session API, gzip messages through zlib
  libnghttp2-dev zlib1g-dev
  # TLS on listeners (tls/): OpenSSL 3, driven through memory BIOs
  libssl-dev
)
test_packages=(
  doctest-dev redis-tools redis-server python3 python3-protobuf python3-redis
  # the sanitized and fuzz builds, and llvm-symbolizer, which puts file:line in their reports
  clang libclang-rt-14-dev clang-format llvm
  zookeeper python3-kazoo
  prometheus
  # test_status_page.py loads the admin status page in it, headless, over the DevTools pipe
  chromium
  # scripts/package.sh and test_package.py: dpkg-buildpackage (debhelper brings dpkg-dev), lintian,
  # systemd-analyze, and man and groff for the manual pages. No fakeroot: debian/control says
  # Rules-Requires-Root: no.
  debhelper lintian systemd man-db groff-base
  # test_grpc.py: Python's own gRPC client, and protoc's plugin that writes its stubs
  python3-grpcio protobuf-compiler-grpc
  # gRPC's own service definitions: test_grpc.py calls the health service with stubs made from them
  grpc-proto
  # the TLS tests make their certificates with the openssl command line
  openssl
  # test_thrift_codec: the Python Thrift library is the codec's peer; thrift-compiler writes
  # the stubs of the Thrift tests' pi.thrift
  python3-thrift thrift-compiler
)
bench_packages=(
  nutcracker haproxy gnuplot-nox
  # the grpc section: h2load, nginx's grpc_pass, and libgrpc++ for bench/grpc_pi_server.cpp (its
  # stubs come from protobuf-compiler-grpc's grpc_cpp_plugin, already in the test packages)
  nghttp2-client nginx libgrpc++-dev
)

wanted=("${build_packages[@]}")
case "${1:-}" in
  --with-tests) wanted+=("${test_packages[@]}") ;;
  --with-bench) wanted+=("${test_packages[@]}" "${bench_packages[@]}") ;;
esac

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
# Packages that ship a daemon (redis-server, prometheus, nginx) must not start it: the tests start their
# own peers on free ports. policy-rc.d is Debian's switch for that, removed again on exit unless
# the machine already had one.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
