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
use telltale_api::{shell, AlertActionInput, Api, OverviewLevel};

/// The tray icon's id.
const TRAY_ID: &str = "telltale";
/// How often the tray is refreshed.
const REFRESH: Duration = Duration::from_secs(2);
/// The lamp for an overview level (`telltale_api::shell::lamp_rgba`).
fn lamp(level: OverviewLevel) -> Image<'static> {
    Image::new_owned(shell::lamp_rgba(level), shell::LAMP_SIZE, shell::LAMP_SIZE)
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
