#!/usr/bin/env bash
# Builds the installable Debian package of the desktop app with the Tauri
# CLI from npm (@tauri-apps/cli, a devDependency of ui/): the web UI, a
# release build of `telltale`, and target/package/release/bundle/deb/Telltale_*.deb.
# Install it with `sudo apt install ./target/package/release/bundle/deb/Telltale_*.deb`.
#
# It builds in its own target directory (target/package) without debug line
# tables and stripped: the workspace's release profile keeps line tables for
# profiling the benchmarks, which would make the installed binary ~175 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app
export PATH="$HOME/.cargo/bin:$PATH"
(cd ui && npm run build)
# The CLI finds src-tauri/tauri.conf.json below the working directory.
export CARGO_TARGET_DIR="$PWD/target/package"
export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols
ui/node_modules/.bin/tauri build --bundles deb --ci
deb=$(ls -t target/package/release/bundle/deb/*.deb | head -n1)
dpkg-deb --info "$deb" | sed -n '1,20p'
dpkg-deb --contents "$deb" | grep -E 'usr/bin/telltale$|\.desktop$|icons/.*\.png$'
echo "package: $deb"
