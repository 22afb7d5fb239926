// Generated from crates/telltale-api/src/ops.rs by `cargo test -p telltale-api`. Do not edit.
import type { AboutView } from "./AboutView";
import type { AlertActionInput } from "./AlertActionInput";
import type { AlertHistoryView } from "./AlertHistoryView";
import type { AlertId } from "./AlertId";
import type { AlertView } from "./AlertView";
import type { CompactView } from "./CompactView";
import type { DbStatsView } from "./DbStatsView";
import type { EventPage } from "./EventPage";
import type { EventsRequest } from "./EventsRequest";
import type { FeedConfig } from "./FeedConfig";
import type { FeedDetail } from "./FeedDetail";
import type { FeedName } from "./FeedName";
import type { FeedView } from "./FeedView";
import type { HealthView } from "./HealthView";
import type { ImportReport } from "./ImportReport";
import type { ImportRequest } from "./ImportRequest";
import type { MaintenanceName } from "./MaintenanceName";
import type { MaintenanceView } from "./MaintenanceView";
import type { MuteView } from "./MuteView";
import type { NoArgs } from "./NoArgs";
import type { OverviewView } from "./OverviewView";
import type { ProbeInput } from "./ProbeInput";
import type { ProbeReport } from "./ProbeReport";
import type { SeriesRequest } from "./SeriesRequest";
import type { SeriesView } from "./SeriesView";
import type { SettingsView } from "./SettingsView";
import type { SnoozeTagRequest } from "./SnoozeTagRequest";
import type { StartMaintenanceRequest } from "./StartMaintenanceRequest";
import type { TimelineRequest } from "./TimelineRequest";
import type { TimelineView } from "./TimelineView";

/** Every API operation: its request and its response. */
export interface Operations {
  /** Every stored feed with its status. */
  list_feeds: { request: NoArgs; response: Array<FeedView> };
  /** One feed: config (secrets masked), series and status. */
  get_feed: { request: FeedName; response: FeedDetail };
  /** Adds or replaces the feed of that name. */
  upsert_feed: { request: FeedConfig; response: FeedView };
  /** Deletes a feed and its history. */
  delete_feed: { request: FeedName; response: null };
  /** Connects once with a draft config and reports what arrives. */
  test_feed: { request: ProbeInput; response: ProbeReport };
  /** One series over a time range, in at most `max_points` buckets. */
  series: { request: SeriesRequest; response: SeriesView };
  /** A page of stored events, newest first. */
  events: { request: EventsRequest; response: EventPage };
  /** A feed's connection states and issues over a time range. */
  timeline: { request: TimelineRequest; response: TimelineView };
  /** Every alert instance. */
  alerts: { request: NoArgs; response: Array<AlertView> };
  /** Acknowledge, snooze, mute or unmute. */
  alert_action: { request: AlertActionInput; response: null };
  /** One alert's history, newest first. */
  alert_history: { request: AlertId; response: Array<AlertHistoryView> };
  /** Snoozes a tag: every feed with it, tagged now or later; answers the names of those that have it now. */
  snooze_tag: { request: SnoozeTagRequest; response: Array<string> };
  /** Every maintenance window: when it runs and what it covers. */
  maintenance: { request: NoArgs; response: Array<MaintenanceView> };
  /** Maintenance from now on, for a while, of some feeds or tags. */
  start_maintenance: { request: StartMaintenanceRequest; response: MaintenanceView };
  /** Ends a maintenance window (one running now ends now and is kept). */
  end_maintenance: { request: MaintenanceName; response: null };
  /** Whether notifications are muted, and until when. */
  mute_state: { request: NoArgs; response: MuteView };
  /** The server's version, and whether it is storing data. */
  health: { request: NoArgs; response: HealthView };
  /** Telltale's worst state in one level and one line (the tray lamp). */
  overview: { request: NoArgs; response: OverviewView };
  /** The server's version and the operations it offers. */
  about: { request: NoArgs; response: AboutView };
  /** The database's size and tiers. */
  db_stats: { request: NoArgs; response: DbStatsView };
  /** Runs retention now and gives free pages back to the disk. */
  compact_db: { request: NoArgs; response: CompactView };
  /** The settings in force. */
  settings: { request: NoArgs; response: SettingsView };
  /** Replaces every setting; stored and applied at once. */
  update_settings: { request: SettingsView; response: SettingsView };
  /** Every feed and the settings as a config file (secrets masked). (REST: `GET /api/config/export` answers the TOML file itself.) */
  export_config: { request: NoArgs; response: string };
  /** Adds or replaces the feeds of a config file and applies its settings. (REST: `POST /api/config/import` takes the TOML file itself.) */
  import_config: { request: ImportRequest; response: ImportReport };
}

/** The operations' names, in declaration order. */
export const OPERATION_NAMES = ["list_feeds", "get_feed", "upsert_feed", "delete_feed", "test_feed", "series", "events", "timeline", "alerts", "alert_action", "alert_history", "snooze_tag", "maintenance", "start_maintenance", "end_maintenance", "mute_state", "health", "overview", "about", "db_stats", "compact_db", "settings", "update_settings", "export_config", "import_config"] as const;
