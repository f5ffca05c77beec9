#!/usr/bin/env bash
# Installs code-server (VS Code's workbench and real extension host as an npm package) into the
# ignored cache folder .vscode-test/code-server, for running the integration tests where desktop
# VS Code cannot be downloaded. Idempotent: does nothing when the pinned version is already there.
#
# Needs: ripgrep at /usr/bin/rg and libkrb5-dev (see .ci/run, which installs them with apt).
set -euo pipefail

CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.100.3}" # 4.100.x is the last line that runs on Node 20 (VS Code 1.100.3)
RIPGREP_PACKAGE_VERSION="1.15.11"                      # the @vscode/ripgrep version that code-server 4.100.3 pulls
RIPGREP_ASSET="ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"

root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/.vscode-test/code-server"
bin="$prefix/node_modules/.bin/code-server"

if [ -x "$bin" ] && [ "$(node -p "require('$prefix/node_modules/code-server/package.json').version" 2>/dev/null)" = "$CODE_SERVER_VERSION" ]; then
  echo "code-server $CODE_SERVER_VERSION is installed in $prefix"
  exit 0
fi

if ! command -v rg >/dev/null 2>&1; then
  echo "install-code-server: ripgrep (rg) is missing; on Debian: apt-get install -y ripgrep libkrb5-dev" >&2
  exit 1
fi

# @vscode/ripgrep downloads rg from GitHub during install, which this network refuses.
# Seed its download cache with the system rg instead, under the asset name it looks for.
tmp="$(node -p "require('os').tmpdir()")"
mkdir -p "$tmp/rg-seed"
cp "$(command -v rg)" "$tmp/rg-seed/rg"
cache="$tmp/vscode-ripgrep-cache-$RIPGREP_PACKAGE_VERSION"
mkdir -p "$cache"
tar czf "$cache/$RIPGREP_ASSET" -C "$tmp/rg-seed" rg

mkdir -p "$prefix"
echo "installing code-server $CODE_SERVER_VERSION into $prefix (a few minutes)"
# npm_config_yes lets node-pty's npx call run; npm_config_unsafe_perm lets its postinstall run as root.
(cd "$prefix" && [ -f package.json ] || echo '{"name":"code-server-cache","private":true}' > "$prefix/package.json")
npm_config_yes=true npm_config_unsafe_perm=true npm install --no-audit --no-fund --loglevel=error \
  --prefix "$prefix" "code-server@$CODE_SERVER_VERSION"
"$bin" --version
