#!/bin/sh
# Fails when a source file includes a header of a layer above its own. The folders are the
# layers, each allowed to include its own and those below it (docs/architecture.md):
#   core < tls < codecs < conf < discovery < backends < gateway < admin < process
# Tests, benchmarks and tools stand outside and may include anything.
set -eu
cd "$(dirname "$0")/.."
layers="core tls codecs conf discovery backends gateway admin process"

rank() {
  i=0
  for layer in $layers; do
    [ "$layer" = "$1" ] && { echo $i; return; }
    i=$((i + 1))
  done
  echo -1
}

bad=0
for layer in $layers; do
  own=$(rank "$layer")
  # Every quoted include naming a project folder: "file:line:#include \"folder/...\"".
  hits=$(grep -rnE '^#include "[a-z_]+/' --include='*.h' --include='*.cpp' "$layer" || true)
  [ -z "$hits" ] && continue
  echo "$hits" | while IFS= read -r hit; do
    target=$(echo "$hit" | sed -E 's/^[^"]*"([a-z_]+)\/.*$/\1/')
    theirs=$(rank "$target")
    [ "$theirs" -lt 0 ] && continue  # not a layer (a generated header's folder)
    if [ "$theirs" -gt "$own" ]; then
      echo "layer violation: $layer/ may not include $target/ ($hit)"
    fi
  done
done > /tmp/rpcgate-layers.$$
if [ -s /tmp/rpcgate-layers.$$ ]; then
  cat /tmp/rpcgate-layers.$$ >&2
  echo "$(wc -l < /tmp/rpcgate-layers.$$) include(s) point up a layer; see docs/architecture.md" >&2
  bad=1
fi
rm -f /tmp/rpcgate-layers.$$
exit $bad
