#!/usr/bin/env bash
# Builds the Debian package (dpkg-buildpackage -b -us -uc, from debian/) and checks it with
# lintian (on the .changes, which covers the .deb it lists); any lintian error or warning fails.
# dpkg-buildpackage writes its results beside the tree it builds, so it builds a copy of the
# checkout in build/package/rpcgate-VERSION/ and the .deb lands in build/package/, never in the
# checkout's parent directory.
#   scripts/package.sh                          compiles the gateway as Debian builds it
#   RPCGATE_PREBUILT=build scripts/package.sh   packages build/rpcgate as it is (debian/rules)
#   RPCGATE_PACKAGE_DIR=DIR                     builds in DIR instead of build/package
# Prints the path of the .deb last.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${RPCGATE_PACKAGE_DIR:-build/package}")
version=$(dpkg-parsechangelog -S Version)
tree=$out/rpcgate-$version
rm -rf "$out"
mkdir -p "$tree"

# The checkout's files, committed or not, without what .gitignore leaves out (the build trees).
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$tree"
else
  tar --exclude='./build*' -cf - . | tar -xf - -C "$tree"
fi
if [ -n "${RPCGATE_PREBUILT:-}" ]; then
  RPCGATE_PREBUILT=$(realpath "$RPCGATE_PREBUILT")
  export RPCGATE_PREBUILT
fi

(cd "$tree" && dpkg-buildpackage -b -us -uc -j"$(nproc)")
changes=$(ls "$out"/rpcgate_"$version"_*.changes)
lintian --fail-on error,warning --tag-display-limit 0 "$changes"
ls "$out"/rpcgate_"$version"_*.deb
