//! A real tray host for end-to-end tests: Ayatana's application indicator
//! service (Debian package `ayatana-indicator-application`), the
//! `org.kde.StatusNotifierWatcher` that MATE and Xfce panels use. Apps
//! register their tray items with it; the test reads what a panel would
//! draw (icon file, label) and clicks menu items through the item's
//! `com.canonical.dbusmenu` interface, as a panel does.

use crate::{wait_for, ChildGuard};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The service binary.
pub const SERVICE: &str =
    "/usr/libexec/ayatana-indicator-application/ayatana-indicator-application-service";

/// One registered tray item, as the host sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrayItem {
    /// The icon: a PNG file path (or a theme icon name).
    pub icon: String,
    /// The app's bus name.
    pub bus: String,
    /// The object path of its menu.
    pub menu: String,
    /// The label shown beside the icon.
    pub label: String,
    /// The item's id / title.
    pub title: String,
}

/// Starts the service on the session bus at `address` and waits until it
/// owns `org.kde.StatusNotifierWatcher`.
pub fn start(address: &str, display: &str) -> ChildGuard {
    assert!(
        Path::new(SERVICE).exists(),
        "{SERVICE} is missing: run scripts/setup.sh (installs ayatana-indicator-application)"
    );
    let child = ChildGuard::spawn(
        Command::new(SERVICE)
            .env("DBUS_SESSION_BUS_ADDRESS", address)
            .env("DISPLAY", display)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for(
        "the tray host to own org.kde.StatusNotifierWatcher",
        Duration::from_secs(10),
        || {
            dbus_send(
                address,
                &[
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.kde.StatusNotifierWatcher",
                ],
            )
            .filter(|o| o.contains("boolean true"))
        },
    );
    child
}

fn dbus_send(address: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("dbus-send")
        .env("DBUS_SESSION_BUS_ADDRESS", address)
        .args(["--session", "--print-reply"])
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The quoted value of a `string "…"` / `object path "…"` line.
fn quoted(line: &str) -> Option<String> {
    let start = line.find('"')? + 1;
    let end = line.rfind('"')?;
    (end >= start).then(|| line[start..end].to_string())
}

/// Every item registered with the host.
pub fn items(address: &str) -> Vec<TrayItem> {
    let Some(out) = dbus_send(
        address,
        &[
            "--dest=org.ayatana.indicator.application",
            "/org/ayatana/indicator/application/service",
            "org.ayatana.indicator.application.service.GetApplications",
        ],
    ) else {
        return Vec::new();
    };
    // Each struct is (sisossssss): icon, position, bus name, menu path,
    // icon theme path, label, label guide, accessible description, hint, title.
    let mut items = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    for line in out.lines().map(str::trim) {
        if line == "struct {" {
            fields.clear();
        } else if line.starts_with("string ") || line.starts_with("object path ") {
            fields.push(quoted(line).unwrap_or_default());
        } else if line == "}" && fields.len() >= 9 {
            items.push(TrayItem {
                icon: fields[0].clone(),
                bus: fields[1].clone(),
                menu: fields[2].clone(),
                label: fields[4].clone(),
                title: fields[8].clone(),
            });
            fields.clear();
        }
    }
    items
}

/// The menu's items below the root: (id, label), in order (separators have no label).
pub fn menu(address: &str, item: &TrayItem) -> Vec<(i32, String)> {
    let dest = format!("--dest={}", item.bus);
    let Some(out) = dbus_send(
        address,
        &[
            &dest,
            &item.menu,
            "com.canonical.dbusmenu.GetLayout",
            "int32:0",
            "int32:-1",
            "array:string:label",
        ],
    ) else {
        return Vec::new();
    };
    // Layout items print as `struct { int32 ID  array [ dict entry( string
    // "label" variant string "…" ) ] array [ children ] }`.
    let mut result = Vec::new();
    let mut last_id: Option<i32> = None;
    let mut lines = out.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        if let Some(n) = line.strip_prefix("int32 ") {
            last_id = n.trim().parse().ok();
        } else if line == "string \"label\"" {
            if let (Some(id), Some(v)) = (last_id, lines.next()) {
                // id 0 is the menu's root, not an item.
                if let Some(label) = v.strip_prefix("variant").map(str::trim).and_then(quoted) {
                    if id != 0 {
                        result.push((id, label));
                    }
                }
            }
        }
    }
    result
}

/// Clicks the menu item labelled `label`, as a panel does.
pub fn click(address: &str, item: &TrayItem, label: &str) {
    let entries = menu(address, item);
    let Some((id, _)) = entries.iter().find(|(_, l)| l == label) else {
        panic!("no menu item {label:?} in {entries:?}");
    };
    let dest = format!("--dest={}", item.bus);
    let id = format!("int32:{id}");
    let out = dbus_send(
        address,
        &[
            &dest,
            &item.menu,
            "com.canonical.dbusmenu.Event",
            &id,
            "string:clicked",
            "variant:int32:0",
            "uint32:0",
        ],
    );
    assert!(out.is_some(), "the click on {label:?} was refused");
}

/// The RGBA colour of the centre pixel of a PNG icon file.
pub fn icon_centre(path: &Path) -> Option<[u8; 4]> {
    icon_pixel(path, 0.5, 0.5)
}

/// The RGBA pixel of a PNG icon file at a fraction of its width and height.
pub fn icon_pixel(path: &Path, fx: f32, fy: f32) -> Option<[u8; 4]> {
    let file = std::fs::File::open(path).ok()?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    let (x, y) = ((w as f32 * fx) as usize, (h as f32 * fy) as usize);
    let i = (y.min(h - 1) * w + x.min(w - 1)) * channels;
    let px = buf.get(i..i + channels)?;
    Some(match channels {
        4 => [px[0], px[1], px[2], px[3]],
        3 => [px[0], px[1], px[2], 255],
        _ => return None,
    })
}

/// The icon of `item` as a file path, if it is one.
pub fn icon_path(item: &TrayItem) -> Option<PathBuf> {
    let p = PathBuf::from(&item.icon);
    p.is_absolute().then_some(p)
}
