#!/usr/bin/env bash
# Installs what is missing, builds, and runs the gateway in the foreground on conf/rpcgate.yaml
# (or on the config given as the first argument). Ctrl-C drains and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
exec ./build/rpcgate -c "${1:-conf/rpcgate.yaml}"
