#!/usr/bin/env bash
# Sets everything up and runs every check and test: formatting, lints, unit,
# integration and end-to-end tests (real sockets, real SQLite files, real
# nginx+nchan and node_exporter peers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build binaries used by end-to-end tests"
cargo build --workspace --bins --locked
echo "== cargo test"
cargo test --workspace --locked -- --test-threads=2
