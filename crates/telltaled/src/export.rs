//! `telltaled export` and `telltaled feeds`: reading history back out.
//!
//! The JSONL shapes are a stable interface for scripts:
//! events `{"feed","received_at","id","event","data","truncated"}`,
//! samples `{"feed","metric","labels","ts","value"}`; times are RFC 3339 UTC
//! with milliseconds.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use telltale_model::Timestamp;
use telltale_store::{EventQuery, Order, SampleQuery, Store};

/// Output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

/// What to export.
#[derive(Debug)]
pub struct Request {
    pub db: PathBuf,
    pub feed: String,
    pub since: Option<String>,
    pub until: Option<String>,
    pub format: Format,
    pub samples: bool,
    pub out: Option<PathBuf>,
}

const PAGE: usize = 5_000;

/// Runs an export.
pub fn export(req: &Request) -> Result<ExitCode, String> {
    let store = Store::open(&req.db, Default::default()).map_err(|e| e.to_string())?;
    let feed = store
        .feed_by_name(&req.feed)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "there is no feed named `{}` in {}: `telltaled feeds --db {}` lists them",
                req.feed,
                req.db.display(),
                req.db.display()
            )
        })?;
    let now = Timestamp::now();
    let parse = |s: &Option<String>, flag: &str| -> Result<Option<Timestamp>, String> {
        s.as_deref()
            .map(|v| Timestamp::parse_flexible(v, now).map_err(|e| format!("--{flag}: {e}")))
            .transpose()
    };
    let since = parse(&req.since, "since")?;
    let until = parse(&req.until, "until")?;
    let mut out: Box<dyn Write> = match &req.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let io = |e: std::io::Error| format!("cannot write the export: {e}");
    let name = &req.feed;
    let mut count = 0u64;
    if req.samples {
        if matches!(req.format, Format::Csv) {
            writeln!(out, "feed,metric,labels,ts,value").map_err(io)?;
        }
        let mut after = None;
        loop {
            let page = store
                .samples(&SampleQuery {
                    feed_id: feed.id,
                    from: since,
                    until,
                    after,
                    limit: PAGE,
                })
                .map_err(|e| e.to_string())?;
            let Some(last) = page.last() else { break };
            after = Some((last.series_id, last.ts));
            for s in &page {
                let labels = serde_json::to_string(&s.labels).unwrap_or_else(|_| "{}".into());
                match req.format {
                    Format::Jsonl => {
                        let line = serde_json::json!({
                            "feed": name,
                            "metric": s.metric,
                            "labels": s.labels,
                            "ts": s.ts.to_rfc3339_millis(),
                            "value": s.value,
                        });
                        writeln!(out, "{line}").map_err(io)?;
                    }
                    Format::Csv => writeln!(
                        out,
                        "{},{},{},{},{}",
                        csv(name),
                        csv(&s.metric),
                        csv(&labels),
                        s.ts.to_rfc3339_millis(),
                        s.value
                    )
                    .map_err(io)?,
                }
                count += 1;
            }
            if page.len() < PAGE {
                break;
            }
        }
    } else {
        if matches!(req.format, Format::Csv) {
            writeln!(out, "feed,received_at,id,event,data,truncated").map_err(io)?;
        }
        let mut after_id = None;
        loop {
            let page = store
                .events(&EventQuery {
                    feed_id: Some(feed.id),
                    from: since,
                    until,
                    search: None,
                    before_id: None,
                    after_id,
                    limit: PAGE,
                    order: Order::OldestFirst,
                })
                .map_err(|e| e.to_string())?;
            let Some(last) = page.last() else { break };
            after_id = Some(last.id);
            for e in &page {
                let data = String::from_utf8_lossy(&e.data);
                match req.format {
                    Format::Jsonl => {
                        let line = serde_json::json!({
                            "feed": name,
                            "received_at": e.received_at.to_rfc3339_millis(),
                            "id": e.server_id,
                            "event": e.event_type,
                            "data": data,
                            "truncated": e.truncated,
                        });
                        writeln!(out, "{line}").map_err(io)?;
                    }
                    Format::Csv => writeln!(
                        out,
                        "{},{},{},{},{},{}",
                        csv(name),
                        e.received_at.to_rfc3339_millis(),
                        csv(e.server_id.as_deref().unwrap_or("")),
                        csv(e.event_type.as_deref().unwrap_or("")),
                        csv(&data),
                        e.truncated
                    )
                    .map_err(io)?,
                }
                count += 1;
            }
            if page.len() < PAGE {
                break;
            }
        }
    }
    out.flush().map_err(io)?;
    eprintln!(
        "exported {count} {} of feed `{name}`",
        if req.samples { "samples" } else { "events" }
    );
    Ok(ExitCode::SUCCESS)
}

/// Quotes a CSV field when needed (RFC 4180).
fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row of `telltaled feeds`.
pub struct FeedSummary {
    pub name: String,
    pub transport: String,
    pub enabled: bool,
    pub state: String,
    pub events: u64,
    pub last_event: String,
    pub url: String,
}

/// Summaries of every stored feed.
pub fn feed_summaries(store: &Store) -> Result<Vec<FeedSummary>, String> {
    let mut out = Vec::new();
    for f in store.list_feeds().map_err(|e| e.to_string())? {
        let events = store.event_count(Some(f.id)).map_err(|e| e.to_string())?;
        let last = store
            .events(&EventQuery {
                feed_id: Some(f.id),
                from: None,
                until: None,
                search: None,
                before_id: None,
                after_id: None,
                limit: 1,
                order: Order::NewestFirst,
            })
            .map_err(|e| e.to_string())?;
        let state = store
            .timeline(f.id, Timestamp(0), Timestamp::now(), 10_000)
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|t| t.kind == "state")
            .max_by_key(|t| t.ts)
            .map(|t| t.state)
            .unwrap_or_else(|| "never ran".into());
        out.push(FeedSummary {
            name: f.config.name.clone(),
            transport: f.config.transport.as_str().into(),
            enabled: f.config.enabled,
            state,
            events,
            last_event: last
                .first()
                .map(|e| e.received_at.to_rfc3339_millis())
                .unwrap_or_else(|| "-".into()),
            url: telltale_model::secret::redact_url(&f.config.url),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(super::csv("plain"), "plain");
        assert_eq!(super::csv("a,b"), "\"a,b\"");
        assert_eq!(super::csv("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
    }
}
