//! Why Telltale parses SSE itself (docs/architecture.md): the same bytes
//! through our parser and through `eventsource-stream`, the parser inside
//! `reqwest-eventsource`, the usual choice in Rust. Each test shows what a
//! monitor would lose with theirs: the heartbeats, a bound on an event's
//! size, and every event after one invalid UTF-8 byte.

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use telltale_sources::sse::parser::{Output, Parser};

/// What `eventsource-stream` makes of `chunks`: each event's data, or the
/// error that ended the stream.
async fn theirs(chunks: Vec<Vec<u8>>) -> Vec<Result<String, String>> {
    futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::convert::Infallible>))
        .eventsource()
        .map(|r| r.map(|e| e.data).map_err(|e| e.to_string()))
        .collect()
        .await
}

/// What our parser makes of `chunks`, with events of at most `max` bytes.
fn ours(chunks: &[Vec<u8>], max: usize) -> Vec<Output> {
    let mut parser = Parser::new(max);
    let mut out = Vec::new();
    for c in chunks {
        parser.feed(c, &mut out);
    }
    out
}

fn data(out: &[Output]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.data.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn heartbeats_are_seen_by_ours_and_invisible_in_theirs() {
    // A quiet but healthy stream: two heartbeats, then one event.
    let chunks = vec![b": hb\n\n".to_vec(), b": hb\n\ndata: x\n\n".to_vec()];
    let mine = ours(&chunks, 1 << 20);
    let beats = mine
        .iter()
        .filter(|o| matches!(o, Output::Comment(c) if c.trim() == "hb"))
        .count();
    assert_eq!(beats, 2, "{mine:?}");
    assert_eq!(data(&mine), ["x"]);
    // Theirs: only the event; nothing tells a quiet stream from a dead one.
    assert_eq!(theirs(chunks).await, [Ok("x".to_string())]);
}

#[tokio::test]
async fn an_oversize_event_is_refused_by_ours_and_held_whole_by_theirs() {
    let limit = 64 * 1024;
    let big = "a".repeat(2 * 1024 * 1024);
    let mut chunks: Vec<Vec<u8>> = vec![b"data: ".to_vec()];
    chunks.extend(big.as_bytes().chunks(16 * 1024).map(<[u8]>::to_vec));
    chunks.push(b"\n\ndata: after\n\n".to_vec());
    let mine = ours(&chunks, limit);
    assert!(
        mine.iter()
            .any(|o| matches!(o, Output::LineTooLong { limit: l, .. } if *l == limit)),
        "ours reports the line as soon as it crosses the limit"
    );
    assert_eq!(data(&mine), ["after"], "and goes on with the next event");
    // Theirs: the whole 2 MiB event, buffered and delivered (no limit at
    // all: a lying server can grow it without bound).
    let got = theirs(chunks).await;
    assert_eq!(
        got.len(),
        2,
        "{:?}",
        got.iter()
            .map(|r| r.as_ref().map(String::len))
            .collect::<Vec<_>>()
    );
    assert_eq!(got[0].as_ref().map(String::len), Ok(big.len()));
}

#[tokio::test]
async fn one_invalid_utf8_byte_costs_theirs_every_later_event() {
    // WHATWG: decode as UTF-8 with replacement characters, and go on.
    let chunks = vec![
        b"data: before\n\ndata: a\xff\n\n".to_vec(),
        b"data: b\n\ndata: c\n\n".to_vec(),
    ];
    let mine = ours(&chunks, 1 << 20);
    assert_eq!(data(&mine), ["before", "a\u{FFFD}", "b", "c"]);
    // Theirs waits for the rest of a "split" character that never comes:
    // everything after the byte is buffered, no later event is delivered,
    // and the stream ends in an error.
    let got = theirs(chunks).await;
    assert_eq!(got.first(), Some(&Ok("before".to_string())), "{got:?}");
    assert!(
        !got.iter()
            .any(|r| matches!(r, Ok(d) if d == "b" || d == "c")),
        "{got:?}"
    );
    assert!(got.last().is_some_and(Result::is_err), "{got:?}");
}
