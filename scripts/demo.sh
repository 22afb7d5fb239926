#!/usr/bin/env bash
# Sets everything up, builds the web UI and the desktop app, and opens it.
# On first run the window shows an empty dashboard with an "Add demo fleet"
# button: one click starts the simulated fleet in-process and adds its
# feeds; live charts appear at once and host-3's scripted incident raises a
# native alert about 75 s later.
#
# Without a display (no $DISPLAY or $WAYLAND_DISPLAY), or with --browser, it
# runs the same UI in browser mode instead: the simulated fleet as its own
# process and `telltaled serve` on http://127.0.0.1:7878.
#
# History is kept in demo/telltale.db (TELLTALE_DEMO_DIR to change).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=desktop
if [ "${1:-}" = "--browser" ] || { [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; }; then
  MODE=browser
fi
bash scripts/setup.sh app
export PATH="$HOME/.cargo/bin:$PATH"

(cd ui && npm run build)
BIN=target/release
DEMO_DIR=${TELLTALE_DEMO_DIR:-demo}
mkdir -p "$DEMO_DIR"

if [ "$MODE" = desktop ]; then
  cargo build --release --locked -p telltale-desktop
  echo "demo: opening the Telltale window; click 'Add demo fleet' to start the simulated fleet"
  echo "demo: history in $DEMO_DIR/telltale.db; closing the window keeps Telltale in the tray (Quit is in its menu)"
  TELLTALE_DB="$DEMO_DIR/telltale.db" exec "$BIN/telltale"
fi

echo "demo: no display found (or --browser): running the same UI in browser mode"
cargo build --release --locked --bin telltaled --bin telltale-sim
PORT=${TELLTALE_SIM_PORT:-9700}
"$BIN/telltale-sim" --listen "127.0.0.1:$PORT" --hosts 5 &
SIM=$!
trap 'kill $SIM 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
"$BIN/telltale-sim" config --base "http://127.0.0.1:$PORT" --hosts 5 > "$DEMO_DIR/feeds.toml"
echo "demo: feeds in $DEMO_DIR/feeds.toml, history in $DEMO_DIR/browser.db"
echo "demo: export later with: $BIN/telltaled export --db $DEMO_DIR/browser.db --feed host-1 --format jsonl"
UI_PORT=${TELLTALE_UI_PORT:-7878}
echo "demo: open http://127.0.0.1:$UI_PORT in a browser for the dashboard"
"$BIN/telltaled" serve --listen "127.0.0.1:$UI_PORT" --ui-dir ui/dist \
  --config "$DEMO_DIR/feeds.toml" --db "$DEMO_DIR/browser.db" --status-every 5s
