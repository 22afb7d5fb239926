#!/usr/bin/env bash
# Installs what Telltale needs, and nothing that is already there. Safe to
# run again. Needs root or sudo for apt-get.
#
#   bash scripts/setup.sh app   what building and running the app needs
#                               (scripts/demo.sh, scripts/package.sh)
#   bash scripts/setup.sh       that plus what the tests need: the real peers
#                               (nginx + nchan, node_exporter, Prometheus,
#                               mosquitto, PostgreSQL, the GraphQL and
#                               Socket.IO servers and webhook signers from npm
#                               and the gRPC server from PyPI in tests/peers), the
#                               desktop test stack (Xvfb, D-Bus, dunst, a tray
#                               host, WebKitWebDriver, tauri-driver), Chromium,
#                               clippy and rustfmt (scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
SCOPE=${1:-all}
case "$SCOPE" in
  app | all) ;;
  *) echo "usage: bash scripts/setup.sh [app]" >&2; exit 2 ;;
esac

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# The build (SQLite is bundled; TLS uses OpenSSL) and the desktop app's
# libraries; curl for the demo's browser mode.
APT_PACKAGES=(
  pkg-config libssl-dev ca-certificates curl
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
)
# The tests: the real third-party peers, the notification and desktop stack,
# the browser.
if [ "$SCOPE" = all ]; then
  APT_PACKAGES+=(
    nginx-light libnginx-mod-nchan prometheus-node-exporter prometheus mosquitto
    dnsmasq-base tinyproxy-bin
    postgresql-15
    sqlite3
    xvfb xauth dbus dbus-x11 dunst webkit2gtk-driver ayatana-indicator-application
    chromium
  )
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The nginx package starts a system service on port 80; the tests run
  # their own nginx on loopback ports, so stop the packaged one.
  if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
    $SUDO systemctl stop nginx || true
  fi
  # Likewise mosquitto: the MQTT tests start their own brokers.
  if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
    $SUDO systemctl stop mosquitto || true
  fi
  # Likewise PostgreSQL: the tests make their own clusters with initdb.
  if command -v systemctl >/dev/null && systemctl is-active --quiet postgresql 2>/dev/null; then
    $SUDO systemctl stop postgresql || true
  fi
  # Likewise Prometheus: telltale-bench runs its own next to telltaled.
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl stop prometheus || true
  fi
fi

if ! command -v cargo >/dev/null; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: cargo is missing. Install Rust (https://rustup.rs) and run this again." >&2
    exit 1
  fi
fi
cargo fetch --locked >/dev/null 2>&1 || cargo fetch

if [ "$SCOPE" = all ]; then
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
  # tauri-driver drives the real desktop app over WebDriver in the tests.
  if ! command -v tauri-driver >/dev/null; then
    echo "setup: installing tauri-driver"
    cargo install tauri-driver --locked --quiet
  fi
fi

# The web UI: Node.js from the machine, or Debian's if there is none.
if ! command -v npm >/dev/null; then
  echo "setup: installing nodejs and npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ -f ui/package-lock.json ] && ! cmp -s ui/package-lock.json ui/node_modules/.installed-lock 2>/dev/null; then
  # npm ci installs exactly the lock file; the stamp skips it next time.
  (cd ui && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.installed-lock)
fi
# The reference servers the tests start on Node (GraphQL subscriptions:
# graphql-ws and subscriptions-transport-ws; socket.io).
if [ "$SCOPE" = all ] && ! cmp -s tests/peers/package-lock.json tests/peers/node_modules/.installed-lock 2>/dev/null; then
  (cd tests/peers && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.installed-lock)
fi
# The gRPC reference server (grpcio with health checking and reflection,
# from PyPI) in a venv of its own; the stamp skips it next time.
if [ "$SCOPE" = all ] && ! cmp -s tests/peers/requirements.txt tests/peers/.venv/.installed-requirements 2>/dev/null; then
  python3 -m venv tests/peers/.venv 2>/dev/null \
    || { $SUDO apt-get install -y -qq python3-venv >/dev/null && /usr/bin/python3 -m venv tests/peers/.venv; }
  tests/peers/.venv/bin/pip install --quiet --disable-pip-version-check -r tests/peers/requirements.txt
  cp tests/peers/requirements.txt tests/peers/.venv/.installed-requirements
fi
echo "setup: ready ($SCOPE)"
