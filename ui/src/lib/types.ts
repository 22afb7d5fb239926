// The one place that names the generated bindings (./bindings, written by
// ts-rs from the Rust API; never edit those by hand). The app imports
// these aliases only, so a renamed Rust type touches this file alone.
export type { FeedView as Feed } from './bindings/FeedView';
export type { FeedDetail } from './bindings/FeedDetail';
export type { FeedConfig } from './bindings/FeedConfig';
export type { MetricRule } from './bindings/MetricRule';
export type { AlertRule } from './bindings/AlertRule';
export type { ConnStateView as ConnState } from './bindings/ConnStateView';
export type { TransportKind } from './bindings/TransportKind';
export type { PayloadFormat } from './bindings/PayloadFormat';
export type { SeriesInfoView as SeriesInfo } from './bindings/SeriesInfoView';
export type { SeriesView as Series } from './bindings/SeriesView';
export type { PointView as Point } from './bindings/PointView';
export type { EventView as StoredEvent } from './bindings/EventView';
export type { EventPage } from './bindings/EventPage';
export type { TimelineView as Timeline } from './bindings/TimelineView';
export type { TimelineEntryView as TimelineEntry } from './bindings/TimelineEntryView';
export type { AlertView as Alert } from './bindings/AlertView';
export type { AlertHistoryView as AlertHistoryEntry } from './bindings/AlertHistoryView';
export type { AlertActionInput as AlertAction } from './bindings/AlertActionInput';
export type { PhaseView as Phase } from './bindings/PhaseView';
export type { Severity } from './bindings/Severity';
export type { MuteView as MuteState } from './bindings/MuteView';
export type { DbStatsView as DbStats } from './bindings/DbStatsView';
export type { HealthView as ServerHealth } from './bindings/HealthView';
export type { ImportReport } from './bindings/ImportReport';
export type { ProbeInput } from './bindings/ProbeInput';
export type { ProbeReport } from './bindings/ProbeReport';
export type { ProbeMessageView as ProbeMessage } from './bindings/ProbeMessageView';
export type { ProbeStateView as ProbeState } from './bindings/ProbeStateView';
export type { SettingsView as Settings } from './bindings/SettingsView';
export type { StoreSettingsView as StoreSettings } from './bindings/StoreSettingsView';
export type { AlertSettingsView as AlertSettings } from './bindings/AlertSettingsView';
export type { QuietHoursView as QuietHours } from './bindings/QuietHoursView';
export type { CompactView as CompactReport } from './bindings/CompactView';
export type { LiveMessage } from './bindings/LiveMessage';
export type { LiveBatchView as LiveBatch } from './bindings/LiveBatchView';
export type { LiveSampleView as LiveSample } from './bindings/LiveSampleView';
export type { LiveEventView as LiveEvent } from './bindings/LiveEventView';
export type { LiveStateView as LiveState } from './bindings/LiveStateView';
export type { ErrorCode } from './bindings/ErrorCode';
import type { ErrorCode } from './bindings/ErrorCode';

/** Codes the client adds: the server could not be reached, or answered something that is not the API's JSON. */
export type ClientErrorCode = 'network' | 'bad_response' | `http_${number}`;

/** A failure as the UI handles it: the API's `{code, message}` (see the generated `ErrorCode`) or the client's own. */
export type ApiError = { code: ErrorCode | ClientErrorCode; message: string };

/** Metric labels, as every binding spells them. */
export type Labels = { [key in string]: string };
