//! The tray lamp: its colour and tooltip show the API's overview, the worst
//! state (dark red: Telltale cannot store data or stopped, red: alerts
//! firing, amber: feeds not live, green: all live, grey: no feeds), its
//! label the number of firing alerts (where the tray host shows labels, as
//! AppIndicator hosts on Linux do; tooltips are not shown there), and its
//! menu shows the window, mutes notifications or quits.

use crate::{show_main, shutdown};
use std::time::Duration;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};
use telltale_api::{AlertActionInput, Api, OverviewLevel};

/// The tray icon's id.
const TRAY_ID: &str = "telltale";
/// How often the tray is refreshed.
const REFRESH: Duration = Duration::from_secs(2);
/// Side of the tray icon, in pixels.
const ICON_SIZE: u32 = 32;

/// The lamp's colour for the overview's level (`telltale_api::overview`).
fn colour(level: OverviewLevel) -> [u8; 3] {
    match level {
        OverviewLevel::Idle => [0x8a, 0x93, 0x9c],
        OverviewLevel::Ok => [0x2e, 0xcc, 0x71],
        OverviewLevel::Degraded => [0xf5, 0xa6, 0x23],
        OverviewLevel::Firing => [0xe7, 0x4c, 0x3c],
        OverviewLevel::Failing => [0x9b, 0x1c, 0x1c],
    }
}

/// A round lamp of `level`'s colour with a dark rim, as RGBA.
fn lamp(level: OverviewLevel) -> Image<'static> {
    let [r, g, b] = colour(level);
    let n = ICON_SIZE as usize;
    let c = n as f32 / 2.0;
    let mut rgba = vec![0u8; n * n * 4];
    for y in 0..n {
        for x in 0..n {
            let d = ((x as f32 + 0.5 - c).powi(2) + (y as f32 + 0.5 - c).powi(2)).sqrt();
            let (px, alpha) = if d <= c - 4.0 {
                ([r, g, b], 1.0)
            } else if d <= c - 1.0 {
                ([0x1e, 0x24, 0x2b], 1.0)
            } else {
                ([0x1e, 0x24, 0x2b], (c - d).clamp(0.0, 1.0))
            };
            let i = (y * n + x) * 4;
            rgba[i..i + 3].copy_from_slice(&px);
            rgba[i + 3] = (alpha * 255.0) as u8;
        }
    }
    Image::new_owned(rgba, ICON_SIZE, ICON_SIZE)
}

/// Creates the tray icon and its menu.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let menu = Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, "show", "Show Telltale", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "mute-1h", "Mute for 1 hour", true, None::<&str>)?,
            &MenuItem::with_id(app, "mute-4h", "Mute for 4 hours", true, None::<&str>)?,
            &MenuItem::with_id(app, "mute-8h", "Mute for 8 hours", true, None::<&str>)?,
            &MenuItem::with_id(app, "unmute", "Unmute", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "quit", "Quit Telltale", true, None::<&str>)?,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(lamp(OverviewLevel::Idle))
        .tooltip("Telltale — starting")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_main(tray.app_handle());
            }
        })
        .build(app)?;
    Ok(())
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let hours = match id {
        "show" => return show_main(app),
        "quit" => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                shutdown(&app).await;
                app.exit(0);
            });
            return;
        }
        "unmute" => None,
        "mute-1h" => Some(1),
        "mute-4h" => Some(4),
        "mute-8h" => Some(8),
        _ => return,
    };
    let action = match hours {
        Some(h) => AlertActionInput::Mute {
            secs: Some(h * 3600),
        },
        None => AlertActionInput::Unmute,
    };
    let Some(api) = app.try_state::<Api>().map(|a| a.inner().clone()) else {
        return;
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = api.alert_action(action).await {
            tracing::warn!("tray: {e}");
        }
        refresh(&app, &api, &mut None).await;
    });
}

/// Refreshes the tray every [`REFRESH`] until the app exits.
pub fn spawn_updates<R: Runtime>(app: AppHandle<R>, api: Api) {
    tauri::async_runtime::spawn(async move {
        let mut shown = None;
        let mut tick = tokio::time::interval(REFRESH);
        loop {
            tick.tick().await;
            if !refresh(&app, &api, &mut shown).await {
                break;
            }
        }
    });
}

/// Updates tooltip and icon; `false` once the tray is gone.
async fn refresh<R: Runtime>(
    app: &AppHandle<R>,
    api: &Api,
    shown: &mut Option<OverviewLevel>,
) -> bool {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return false;
    };
    let Ok(o) = api.overview().await else {
        return true;
    };
    let tooltip = format!("Telltale — {}", o.text);
    apply(&tray, o.level, &tooltip, o.firing, shown);
    true
}

fn apply<R: Runtime>(
    tray: &TrayIcon<R>,
    level: OverviewLevel,
    tooltip: &str,
    firing: u32,
    shown: &mut Option<OverviewLevel>,
) {
    if let Err(e) = tray.set_tooltip(Some(tooltip)) {
        tracing::debug!("tray tooltip: {e}");
    }
    // The count beside the lamp; no label when nothing fires.
    let label = (firing > 0).then(|| firing.to_string());
    if let Err(e) = tray.set_title(label.as_deref()) {
        tracing::debug!("tray label: {e}");
    }
    if *shown != Some(level) {
        match tray.set_icon(Some(lamp(level))) {
            Ok(()) => *shown = Some(level),
            Err(e) => tracing::debug!("tray icon: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lamp_is_rgba_of_the_right_size() {
        let img = lamp(OverviewLevel::Firing);
        assert_eq!(img.width(), ICON_SIZE);
        assert_eq!(img.rgba().len(), (ICON_SIZE * ICON_SIZE * 4) as usize);
        // Centre pixel is the level's colour, a corner is transparent.
        let c = ((ICON_SIZE / 2 * ICON_SIZE + ICON_SIZE / 2) * 4) as usize;
        assert_eq!(&img.rgba()[c..c + 4], &[0xe7, 0x4c, 0x3c, 0xff]);
        assert_eq!(img.rgba()[3], 0);
    }
}
