#!/usr/bin/env bash
# Sets everything up, starts the simulated fleet, and runs telltaled on it:
# live state is printed every 5 s and the web UI is served on
# http://127.0.0.1:7878. Ctrl-C stops both and flushes to disk.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

(cd ui && npm run build)
cargo build --release --bin telltaled --bin telltale-sim
BIN=target/release
DEMO_DIR=${TELLTALE_DEMO_DIR:-demo}
PORT=${TELLTALE_SIM_PORT:-9700}
mkdir -p "$DEMO_DIR"

"$BIN/telltale-sim" --listen "127.0.0.1:$PORT" --hosts 5 &
SIM=$!
trap 'kill $SIM 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
"$BIN/telltale-sim" config --base "http://127.0.0.1:$PORT" --hosts 5 > "$DEMO_DIR/feeds.toml"
echo "demo: feeds in $DEMO_DIR/feeds.toml, history in $DEMO_DIR/telltale.db"
echo "demo: export later with: $BIN/telltaled export --db $DEMO_DIR/telltale.db --feed host-1 --format jsonl"
UI_PORT=${TELLTALE_UI_PORT:-7878}
echo "demo: open http://127.0.0.1:$UI_PORT in a browser for the dashboard"
"$BIN/telltaled" serve --listen "127.0.0.1:$UI_PORT" --ui-dir ui/dist \
  --config "$DEMO_DIR/feeds.toml" --db "$DEMO_DIR/telltale.db" --status-every 5s
