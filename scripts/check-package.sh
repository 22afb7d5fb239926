#!/usr/bin/env bash
# Builds the Debian package (scripts/package.sh) and checks what an operator
# gets from it on a clean desktop:
#  1. its Depends are exactly the web view, GTK and the tray library;
#  2. its desktop entry files it under System → Monitor and starts telltale;
#  3. the packaged binary starts and answers with the tray library hidden
#     (many GNOME desktops lack it): the no-tray desktop test runs against
#     the binary unpacked from the .deb (dpkg-deb -x, no root needed).
set -euo pipefail
cd "$(dirname "$0")/.."
# The package needs the app's setup; its check runs a desktop test.
bash scripts/setup.sh
bash scripts/package.sh
export PATH="$HOME/.cargo/bin:$PATH"
deb=$(ls -t target/package/release/bundle/deb/*.deb | head -n1)

echo "== the package's Depends"
want="libwebkit2gtk-4.1-0, libgtk-3-0, libayatana-appindicator3-1"
got=$(dpkg-deb -f "$deb" Depends)
# Order does not matter to apt; compare as sorted sets.
norm() { tr ',' '\n' | sed 's/^ *//; s/ *$//' | grep -v '^$' | sort | paste -sd, -; }
if [ "$(printf '%s' "$got" | norm)" != "$(printf '%s' "$want" | norm)" ]; then
  echo "check-package: $deb depends on '$got'; expected exactly '$want'" >&2
  echo "  (bundle.linux.deb.depends in src-tauri/tauri.conf.json adds the tray library)" >&2
  exit 1
fi
echo "Depends: $got"

echo "== the desktop entry"
# Menus file the app under System → Monitor (src-tauri/telltale.desktop.hbs);
# the bundler's own template would say only Utility.
entry=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*/share/applications/*.desktop')
printf '%s\n' "$entry"
if ! printf '%s\n' "$entry" | grep -qx 'Categories=System;Monitor;'; then
  echo "check-package: the .desktop entry in $deb is not in Categories=System;Monitor;" >&2
  exit 1
fi
if ! printf '%s\n' "$entry" | grep -q '^Exec=telltale'; then
  echo "check-package: the .desktop entry in $deb does not start telltale" >&2
  exit 1
fi
# Notifications name this entry in their desktop-entry hint
# (crates/telltale-alerts/src/desktop.rs DESKTOP_ENTRY).
# (dpkg-deb lists paths with or without a leading ./; a here-string, not
# a pipe, so that grep -q stopping early cannot fail the pipeline)
listing=$(dpkg-deb -c "$deb")
if ! grep -Eq ' (\./)?usr/share/applications/Telltale\.desktop$' <<< "$listing"; then
  echo "check-package: $deb has no usr/share/applications/Telltale.desktop, which notifications name as their desktop-entry" >&2
  exit 1
fi

echo "== the packaged binary without the tray library"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
test -x "$root/usr/bin/telltale" || { echo "check-package: no usr/bin/telltale in $deb" >&2; exit 1; }
TELLTALE_APP_BIN="$root/usr/bin/telltale" \
  cargo test --locked -p telltale-e2e --test desktop without_the_tray_library -- --exact \
  without_the_tray_library_the_app_starts_says_so_once_and_keeps_its_window_on_close
echo "package: OK ($deb)"
