#!/usr/bin/env bash
# Sets everything up and runs every check and test: formatting, lints, unit,
# integration and end-to-end tests (real sockets, real SQLite files, real
# nginx+nchan and node_exporter peers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

echo "== web UI: type check (strict), unit tests, production build"
(cd ui && npm run check && npm test && npm run build)
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== the desktop app without the demo fleet (--no-default-features): it builds and links no simulator"
cargo clippy -p telltale-desktop --no-default-features --all-targets --locked -- -D warnings
if cargo tree -p telltale-desktop --no-default-features -e normal --locked | grep -q telltale-sim; then
  echo "telltale-desktop links telltale-sim without the demo feature" >&2
  exit 1
fi
echo "== build binaries used by end-to-end tests"
cargo build --workspace --bins --locked
echo "== browser end-to-end: Debian's Chromium driven by playwright-core against telltaled serve + telltale-sim"
(cd ui && npm run e2e)
echo "== cargo test"
cargo test --workspace --locked -- --test-threads=2
echo "== benchmarks, smoke scale: correctness only (row counts, no lost messages), never timings"
cargo run --locked -p telltale-bench -- --scale smoke --out target/bench-smoke
echo "== the Debian package: its Depends, and the packaged app starting without the tray library"
bash scripts/check-package.sh
echo "== TypeScript bindings are committed and up to date"
# The tests regenerate ui/src/lib/bindings from the Rust types (ts-rs);
# any difference from what is committed means someone forgot to commit them.
if ! git diff --exit-code --stat -- ui/src/lib/bindings || [ -n "$(git status --porcelain -- ui/src/lib/bindings)" ]; then
  echo "ui/src/lib/bindings drifted from the Rust types: run 'cargo test -p telltale-api' and commit ui/src/lib/bindings" >&2
  exit 1
fi
