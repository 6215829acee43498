#!/usr/bin/env bash
# Installs a supported Node LTS (the line the Dockerfile's image runs) from the npm registry, once,
# into the cache ($CDC_CACHE_DIR or ~/.cache/cdc-invalidator/node-v<version>-<platform>-<arch>),
# so CI also runs the unit tests on it when the machine's own Node is older (.ci/run).
# The registry's `node-<platform>-<arch>` packages carry the official Node binaries; `npm pack`
# checks the tarball against the registry's integrity hash. Idempotent: quick when installed.
# Prints the path of the node binary; exits non-zero (printing nothing on stdout) when it cannot.
#   NODE_LTS_VERSION   exact version to install (default below; keep its major = the Dockerfile's)
set -euo pipefail

version="${NODE_LTS_VERSION:-24.22.3}"
platform="$(node -p 'process.platform + "-" + process.arch')"
dest="${CDC_CACHE_DIR:-$HOME/.cache/cdc-invalidator}/node-v${version}-${platform}"
bin="$dest/bin/node"

if ! "$bin" --version >/dev/null 2>&1; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "setup-node-lts: fetching node-${platform}@${version} from the npm registry" >&2
  (cd "$work" && npm pack --silent --no-fund --no-audit "node-${platform}@${version}" >/dev/null)
  mkdir "$work/unpacked"
  tar -xzf "$work"/node-*.tgz -C "$work/unpacked"
  # Move into place in one step, so an interrupted run never leaves a half-unpacked Node behind.
  mkdir -p "$(dirname "$dest")"
  rm -rf "$dest"
  mv "$work/unpacked/package" "$dest"
fi

actual="$("$bin" --version)"
if [ "$actual" != "v${version}" ]; then
  echo "setup-node-lts: $bin is $actual, expected v${version}" >&2
  exit 1
fi
echo "$bin"
