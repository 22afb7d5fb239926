//! An incremental parser for `text/event-stream`, following the WHATWG
//! HTML standard's "interpret an event stream" rules.
//!
//! Feed it the body in chunks of any size with [`Parser::feed`]; it emits
//! [`Output`]s as soon as they are complete. Splitting is byte-based: line
//! ends (CR, LF, CRLF) are ASCII and never occur inside a multi-byte UTF-8
//! sequence, so a complete line is decoded at once and a character split
//! across chunks simply waits in the line buffer. Invalid UTF-8 becomes
//! U+FFFD, as the standard's UTF-8 decode does.
//!
//! The rules, in short:
//!
//! * a leading byte order mark is stripped, once per stream;
//! * a line starting with `:` is a comment ([`Output::Comment`]);
//! * `name: value` sets a field (one space after the colon is removed); a
//!   line without a colon is a field name with an empty value;
//! * `data` lines are joined with `\n`; `event` sets the type (default
//!   `message`); `id` sets the last event id unless it contains NUL; `retry`
//!   is honoured only when it is all ASCII digits; other fields are ignored;
//! * an empty line dispatches the event. An event with no data is not
//!   emitted, but its `id` still becomes the last event id;
//! * the last event id persists: an event without `id` carries the previous
//!   one, also across [`Parser::reset`] (a reconnect);
//! * an event whose data exceeds the size limit is dropped and reported as
//!   [`Output::Oversize`]; parsing carries on with the next event;
//! * a single line longer than the limit (plus a little room for the field
//!   name) is reported as [`Output::LineTooLong`] the moment it crosses, and
//!   skipped without being buffered.
//!
//! The last event id only changes when an event is *dispatched*: if a stream
//! ends in the middle of an event, its `id` is forgotten, so a reconnect
//! asks to resume after the last complete event and nothing is lost.

use std::time::Duration;

/// A dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The last event id at dispatch (`None` when it is empty).
    pub id: Option<String>,
    /// The event type; `message` when the stream named none.
    pub event_type: String,
    /// The data lines joined with `\n`.
    pub data: String,
}

/// What the parser found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A complete event.
    Event(Event),
    /// A comment line (heartbeat); the text after the colon, as sent.
    Comment(String),
    /// A valid `retry:` field: the server's reconnection delay.
    Retry(Duration),
    /// The current line grew past the limit (plus room for a field name)
    /// before it ended: reported as soon as it crosses, so that the caller
    /// can drop a connection that may never end the line. The parser skips
    /// the rest of the line without buffering it.
    LineTooLong {
        /// Bytes of the line seen so far.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// An event was dropped because its data exceeded the limit.
    Oversize {
        /// Its type (`message` when unnamed).
        event_type: String,
        /// Data bytes seen (at least the limit + 1).
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
}

const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Room for a field name and separator on top of the data limit before a
/// single unterminated line is considered oversize.
const LINE_SLACK: usize = 64;

/// Incremental `text/event-stream` parser. See the module docs.
#[derive(Debug, Clone)]
pub struct Parser {
    max_event_size: usize,
    /// The current, incomplete line (raw bytes).
    line: Vec<u8>,
    /// True until the first line of the stream has been seen (for the BOM).
    at_stream_start: bool,
    /// The previous chunk ended in CR: a leading LF belongs to that line end.
    after_cr: bool,
    /// The current line is too long and is being skipped.
    skipping_line: bool,
    data: String,
    event_type: String,
    /// The stream's last event ID buffer (set by `id:` lines).
    id_buffer: String,
    /// The last event id as of the last dispatch; survives resets.
    last_event_id: String,
    /// The current event exceeded the limit; its data is being discarded.
    oversize: bool,
    /// Data bytes of the current event, counted even while discarding.
    event_bytes: usize,
    /// `data` lines in the current event.
    data_lines: usize,
}

impl Parser {
    /// A parser that drops events whose data exceeds `max_event_size` bytes.
    pub fn new(max_event_size: usize) -> Self {
        Parser {
            max_event_size,
            line: Vec::new(),
            at_stream_start: true,
            after_cr: false,
            skipping_line: false,
            data: String::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            last_event_id: String::new(),
            oversize: false,
            event_bytes: 0,
            data_lines: 0,
        }
    }

    /// The last event id (to send as `Last-Event-ID`), `None` when empty.
    pub fn last_event_id(&self) -> Option<&str> {
        (!self.last_event_id.is_empty()).then_some(self.last_event_id.as_str())
    }

    /// Starts a new stream (a reconnect): discards any incomplete line and
    /// event, but keeps the last event id.
    pub fn reset(&mut self) {
        self.line.clear();
        self.at_stream_start = true;
        self.after_cr = false;
        self.skipping_line = false;
        self.clear_event();
        self.id_buffer.clone_from(&self.last_event_id);
    }

    /// Parses the next chunk of the stream, appending what it completes to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<Output>) {
        if chunk.is_empty() {
            // Keep `after_cr`: the LF may still come in the next chunk.
            return;
        }
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while !chunk.is_empty() {
            match chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
                None => {
                    self.push_partial(chunk, out);
                    return;
                }
                Some(i) => {
                    self.push_partial(&chunk[..i], out);
                    let was_cr = chunk[i] == b'\r';
                    chunk = &chunk[i + 1..];
                    if was_cr {
                        if chunk.is_empty() {
                            self.after_cr = true;
                        } else if let Some(rest) = chunk.strip_prefix(b"\n") {
                            chunk = rest;
                        }
                    }
                    self.end_line(out);
                }
            }
        }
    }

    /// Appends bytes of an unterminated line, switching to skipping mode when
    /// the line alone is already too big to be part of an acceptable event.
    fn push_partial(&mut self, bytes: &[u8], out: &mut Vec<Output>) {
        if bytes.is_empty() {
            return;
        }
        if self.skipping_line {
            // Only a skipped field line (not a comment) makes the event oversize.
            if self.oversize {
                self.event_bytes = self.event_bytes.saturating_add(bytes.len());
            }
            return;
        }
        self.line.extend_from_slice(bytes);
        if self.line.len() > self.max_event_size.saturating_add(LINE_SLACK) {
            self.skipping_line = true;
            out.push(Output::LineTooLong {
                size: self.line.len(),
                limit: self.max_event_size,
            });
            let line_start = if self.at_stream_start {
                self.line.strip_prefix(BOM).unwrap_or(&self.line)
            } else {
                &self.line[..]
            };
            if line_start.first() == Some(&b':') {
                // A giant comment is still a sign of life, but no event.
                out.push(Output::Comment(String::new()));
            } else {
                // Count what would have been delivered: a data line's value
                // (plus its joining LF), or the whole line for other fields.
                let counted = match line_start.strip_prefix(b"data:") {
                    Some(v) => {
                        let joined = usize::from(self.data_lines > 0);
                        self.data_lines += 1;
                        v.strip_prefix(b" ").unwrap_or(v).len() + joined
                    }
                    None => line_start.len(),
                };
                self.oversize = true;
                self.data.clear();
                self.event_bytes = self.event_bytes.saturating_add(counted);
            }
            self.line = Vec::new();
        }
    }

    fn end_line(&mut self, out: &mut Vec<Output>) {
        let first = std::mem::replace(&mut self.at_stream_start, false);
        if std::mem::replace(&mut self.skipping_line, false) {
            return;
        }
        let raw = std::mem::take(&mut self.line);
        let bytes = if first {
            raw.strip_prefix(BOM).unwrap_or(&raw)
        } else {
            &raw[..]
        };
        {
            let line = String::from_utf8_lossy(bytes);
            self.process_line(&line, out);
        }
        // Reuse the allocation unless one huge line inflated it.
        if raw.capacity() <= 64 * 1024 {
            let mut raw = raw;
            raw.clear();
            self.line = raw;
        }
    }

    fn process_line(&mut self, line: &str, out: &mut Vec<Output>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if let Some(comment) = line.strip_prefix(':') {
            out.push(Output::Comment(comment.to_string()));
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event_type = value.to_string(),
            "data" => self.append_data(value),
            "id" if !value.contains('\0') => self.id_buffer = value.to_string(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // All digits: only overflow can fail; saturate.
                let ms = value.parse::<u64>().unwrap_or(u64::MAX);
                out.push(Output::Retry(Duration::from_millis(ms)));
            }
            _ => {}
        }
    }

    fn append_data(&mut self, value: &str) {
        // Size of the data as it would be delivered: lines joined with `\n`.
        let added = value.len() + usize::from(self.data_lines > 0);
        self.data_lines += 1;
        self.event_bytes = self.event_bytes.saturating_add(added);
        if self.oversize {
            return;
        }
        if self.event_bytes > self.max_event_size {
            self.oversize = true;
            self.data = String::new();
            return;
        }
        self.data.push_str(value);
        self.data.push('\n');
    }

    fn dispatch(&mut self, out: &mut Vec<Output>) {
        self.last_event_id.clone_from(&self.id_buffer);
        let event_type = if self.event_type.is_empty() {
            "message".to_string()
        } else {
            std::mem::take(&mut self.event_type)
        };
        if self.oversize {
            out.push(Output::Oversize {
                event_type,
                size: self.event_bytes,
                limit: self.max_event_size,
            });
            self.clear_event();
            return;
        }
        if self.data.is_empty() {
            self.clear_event();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        out.push(Output::Event(Event {
            id: self.last_event_id().map(str::to_string),
            event_type,
            data,
        }));
        self.clear_event();
    }

    fn clear_event(&mut self) {
        self.data.clear();
        self.event_type.clear();
        self.oversize = false;
        self.event_bytes = 0;
        self.data_lines = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: usize = 1 << 20;

    fn parse_with(p: &mut Parser, chunks: &[&[u8]]) -> Vec<Output> {
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out);
        }
        out
    }

    fn parse(s: &str) -> Vec<Output> {
        parse_with(&mut Parser::new(BIG), &[s.as_bytes()])
    }

    fn events(out: &[Output]) -> Vec<Event> {
        out.iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    fn datas(s: &str) -> Vec<String> {
        events(&parse(s)).into_iter().map(|e| e.data).collect()
    }

    fn ev(id: Option<&str>, t: &str, data: &str) -> Event {
        Event {
            id: id.map(str::to_string),
            event_type: t.into(),
            data: data.into(),
        }
    }

    #[test]
    fn a_simple_event_defaults_to_message() {
        assert_eq!(
            parse("data: hello\n\n"),
            vec![Output::Event(ev(None, "message", "hello"))]
        );
    }

    #[test]
    fn nothing_is_dispatched_before_the_empty_line() {
        assert!(parse("data: hello\n").is_empty());
        assert!(parse("data: hello").is_empty());
    }

    #[test]
    fn data_lines_are_joined_with_lf() {
        assert_eq!(
            datas("data: YHOO\ndata: +2\ndata: 10\n\n"),
            vec!["YHOO\n+2\n10"]
        );
    }

    #[test]
    fn event_names_the_type_and_resets_after_dispatch() {
        let out = events(&parse("event: health\ndata: 1\n\ndata: 2\n\n"));
        assert_eq!(out, vec![ev(None, "health", "1"), ev(None, "message", "2")]);
        // An event line in a block without data does not leak into the next event.
        let out = events(&parse("event: a\n\ndata: 1\n\n"));
        assert_eq!(out, vec![ev(None, "message", "1")]);
        // An empty event name means the default type.
        let out = events(&parse("event:\ndata: 1\n\n"));
        assert_eq!(out, vec![ev(None, "message", "1")]);
    }

    #[test]
    fn only_one_leading_space_is_stripped() {
        assert_eq!(datas("data:x\n\n"), vec!["x"]);
        assert_eq!(datas("data: x\n\n"), vec!["x"]);
        assert_eq!(datas("data:  x \n\n"), vec![" x "]);
        assert_eq!(datas("data:\tx\n\n"), vec!["\tx"]);
        // Only the first colon separates.
        assert_eq!(datas("data: a: b\n\n"), vec!["a: b"]);
    }

    #[test]
    fn a_field_without_colon_has_an_empty_value() {
        // `data` alone appends an empty line: the event is dispatched with "".
        assert_eq!(datas("data\n\n"), vec![""]);
        assert_eq!(datas("data\ndata\n\n"), vec!["\n"]);
        assert_eq!(datas("data:\n\n"), vec![""]);
        // The standard's example: the trailing incomplete `data:` is discarded.
        assert_eq!(datas("data\n\ndata\ndata\n\ndata:"), vec!["", "\n"]);
        // `event` alone: empty name, so `message`.
        let out = events(&parse("event\ndata: x\n\n"));
        assert_eq!(out, vec![ev(None, "message", "x")]);
    }

    #[test]
    fn the_last_event_id_persists_across_events() {
        let out = events(&parse("id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\n"));
        assert_eq!(
            out,
            vec![
                ev(Some("7"), "message", "a"),
                ev(Some("7"), "message", "b"),
                ev(Some("8"), "message", "c"),
            ]
        );
    }

    #[test]
    fn the_standards_example_stream() {
        let s = ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n";
        let out = events(&parse(s));
        assert_eq!(
            out,
            vec![
                ev(Some("1"), "message", "first event"),
                // `id` with no value resets the last event id.
                ev(None, "message", "second event"),
                ev(None, "message", " third event"),
            ]
        );
    }

    #[test]
    fn an_id_with_nul_is_ignored() {
        let mut p = Parser::new(BIG);
        let out = events(&parse_with(
            &mut p,
            &[b"id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n"],
        ));
        assert_eq!(
            out,
            vec![ev(Some("1"), "message", "a"), ev(Some("1"), "message", "b")]
        );
        assert_eq!(p.last_event_id(), Some("1"));
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_but_its_id_counts() {
        let mut p = Parser::new(BIG);
        let out = parse_with(&mut p, &[b"id: 5\nevent: x\n\n"]);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(p.last_event_id(), Some("5"));
        let out = events(&parse_with(&mut p, &[b"data: z\n\n"]));
        assert_eq!(out, vec![ev(Some("5"), "message", "z")]);
    }

    #[test]
    fn comments_are_reported_and_are_not_events() {
        let out = parse(": hb\n\n:\n\ndata: a\n: inside\n\n");
        assert_eq!(
            out,
            vec![
                Output::Comment(" hb".into()),
                Output::Comment(String::new()),
                Output::Comment(" inside".into()),
                Output::Event(ev(None, "message", "a")),
            ]
        );
    }

    #[test]
    fn retry_needs_ascii_digits_only() {
        assert_eq!(
            parse("retry: 1500\n"),
            vec![Output::Retry(Duration::from_millis(1500))]
        );
        assert_eq!(parse("retry:0\n"), vec![Output::Retry(Duration::ZERO)]);
        for bad in [
            "retry: 1.5\n",
            "retry: -1\n",
            "retry: 10a\n",
            "retry:\n",
            "retry\n",
            "retry:  10\n",
            "retry: ١٠\n",
        ] {
            assert!(parse(bad).is_empty(), "{bad:?} gave {:?}", parse(bad));
        }
        // Overflow saturates instead of being ignored or panicking.
        assert_eq!(
            parse("retry: 99999999999999999999999\n"),
            vec![Output::Retry(Duration::from_millis(u64::MAX))]
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let out = events(&parse("foo: bar\ndata: a\nDATA: b\nData: c\n\n"));
        assert_eq!(out, vec![ev(None, "message", "a")]);
    }

    #[test]
    fn all_line_endings_work() {
        for s in [
            "data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n",
            "data: a\rdata: b\r\rdata: c\r\r",
            "data: a\ndata: b\n\ndata: c\n\n",
            "data: a\r\ndata: b\r\ndata: c\n\n",
            "data: a\rdata: b\n\r\ndata: c\r\n\n",
        ] {
            let out = datas(s);
            assert!(
                out == vec!["a\nb", "c"] || out == vec!["a\nb\nc"],
                "{s:?}: {out:?}"
            );
        }
        assert_eq!(
            datas("data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n"),
            vec!["a\nb", "c"]
        );
        // LF CR is two line ends (an empty line): it dispatches.
        assert_eq!(datas("data: a\n\rdata: b\n\n"), vec!["a", "b"]);
    }

    #[test]
    fn a_cr_at_the_end_of_a_chunk_and_lf_at_the_start_of_the_next_are_one_line_end() {
        let mut p = Parser::new(BIG);
        let out = events(&parse_with(
            &mut p,
            &[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"],
        ));
        assert_eq!(out, vec![ev(None, "message", "a\nb")]);
        // Also with empty chunks in between.
        let mut p = Parser::new(BIG);
        let out = events(&parse_with(
            &mut p,
            &[b"data: a\r", b"", b"\ndata: b\r\n\r", b"", b"", b"\n"],
        ));
        assert_eq!(out, vec![ev(None, "message", "a\nb")]);
        // But a CR followed (in the next chunk) by anything else is a line end of its own.
        let mut p = Parser::new(BIG);
        let out = events(&parse_with(
            &mut p,
            &[b"data: a\r", b"\r", b"data: b\r", b"\r"],
        ));
        assert_eq!(
            out,
            vec![ev(None, "message", "a"), ev(None, "message", "b")]
        );
        // And a CR ending a chunk dispatches once the next chunk starts elsewhere.
        let mut p = Parser::new(BIG);
        let out = parse_with(&mut p, &[b"data: a\r\r"]);
        assert_eq!(events(&out), vec![ev(None, "message", "a")]);
        let out = parse_with(&mut p, &[b"\ndata: b\n\n"]);
        assert_eq!(events(&out), vec![ev(None, "message", "b")]);
    }

    #[test]
    fn a_leading_bom_is_stripped_once() {
        assert_eq!(datas("\u{FEFF}data: a\n\n"), vec!["a"]);
        // A second BOM is part of the field name, which is then unknown.
        assert_eq!(datas("\u{FEFF}\u{FEFF}data: a\n\ndata: b\n\n"), vec!["b"]);
        // A BOM later in the stream is not special either.
        assert_eq!(datas("data: a\n\n\u{FEFF}data: b\n\n"), vec!["a"]);
        // Split across chunks.
        let mut p = Parser::new(BIG);
        let out = parse_with(&mut p, &[b"\xEF", b"\xBB", b"\xBFdata: a\n\n"]);
        assert_eq!(events(&out), vec![ev(None, "message", "a")]);
        // Each new stream (reconnect) may start with a BOM again.
        p.reset();
        let out = parse_with(&mut p, &[b"\xEF\xBB\xBFdata: b\n\n"]);
        assert_eq!(events(&out), vec![ev(None, "message", "b")]);
    }

    #[test]
    fn multi_byte_characters_split_across_chunks_are_decoded() {
        let s = "event: mété\ndata: héllo € 😀\n\n";
        let mut p = Parser::new(BIG);
        let mut out = Vec::new();
        for b in s.as_bytes() {
            p.feed(std::slice::from_ref(b), &mut out);
        }
        assert_eq!(events(&out), vec![ev(None, "mété", "héllo € 😀")]);
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let mut p = Parser::new(BIG);
        let out = parse_with(&mut p, &[b"data: a\xFFb\xE2\x82\n\n"]);
        assert_eq!(
            events(&out),
            vec![ev(None, "message", "a\u{FFFD}b\u{FFFD}")]
        );
    }

    #[test]
    fn an_incomplete_event_is_not_dispatched_and_its_id_is_not_committed() {
        let mut p = Parser::new(BIG);
        let out = parse_with(&mut p, &[b"id: 1\ndata: a\n\nid: 2\ndata: b\n"]);
        assert_eq!(events(&out), vec![ev(Some("1"), "message", "a")]);
        // The connection drops here: resume after event 1.
        p.reset();
        assert_eq!(p.last_event_id(), Some("1"));
        // The new stream starts clean: no leftover data, type or partial line.
        let out = parse_with(&mut p, &[b"data: c\n\n"]);
        assert_eq!(events(&out), vec![ev(Some("1"), "message", "c")]);
        let mut p = Parser::new(BIG);
        parse_with(&mut p, &[b"event: x\ndata: partial li"]);
        p.reset();
        let out = parse_with(&mut p, &[b"ne\n\ndata: d\n\n"]);
        assert_eq!(events(&out), vec![ev(None, "message", "d")]);
    }

    #[test]
    fn oversize_events_are_dropped_and_parsing_goes_on() {
        let mut p = Parser::new(10);
        let out = parse_with(
            &mut p,
            &[b"data: 0123456789\n\nid: 9\nevent: big\ndata: 01234\ndata: 56789\n\ndata: ok\n\n"],
        );
        assert_eq!(
            out,
            vec![
                Output::Event(ev(None, "message", "0123456789")),
                Output::Oversize {
                    event_type: "big".into(),
                    size: 11,
                    limit: 10
                },
                // The dropped event's id still counts: we do not want it again.
                Output::Event(ev(Some("9"), "message", "ok")),
            ]
        );
    }

    #[test]
    fn a_huge_line_is_not_buffered() {
        let mut p = Parser::new(100);
        let mut out = Vec::new();
        p.feed(b"data: ", &mut out);
        let block = vec![b'x'; 1000];
        for _ in 0..1000 {
            p.feed(&block, &mut out);
            assert!(
                p.line.len() <= 100 + LINE_SLACK,
                "line buffer grows: {}",
                p.line.len()
            );
        }
        p.feed(b"\n\n: a huge comment ", &mut out);
        for _ in 0..10 {
            p.feed(&block, &mut out);
        }
        p.feed(b"\ndata: after\n\n", &mut out);
        // Each line is reported as it crosses the limit, not when it ends.
        assert!(
            matches!(&out[0], Output::LineTooLong { size, limit: 100 } if *size > 100 && *size <= 100 + LINE_SLACK + 1000),
            "{:?}",
            out[0]
        );
        assert!(
            matches!(&out[1], Output::Oversize { size, limit: 100, .. } if *size >= 1_000_000),
            "{:?}",
            out[1]
        );
        assert!(matches!(&out[2], Output::LineTooLong { limit: 100, .. }));
        assert_eq!(out[3], Output::Comment(String::new()));
        assert_eq!(events(&out), vec![ev(None, "message", "after")]);
        assert_eq!(out.len(), 5);
    }

    /// A stream using every rule, fed in many different chunkings, gives
    /// the same outputs every time.
    #[test]
    fn chunking_never_changes_the_result() {
        let stream: Vec<u8> = [
            &b"\xEF\xBB\xBF: welcome\r\nretry: 2500\r\n\r\n"[..],
            b"id: 1\revent: health\rdata: {\"cpu\": 1.5}\r\r",
            b"data: line one\r\ndata: line two\r\n\r\n",
            "data: héllo € 😀 \u{1F600}\n\n".as_bytes(),
            b"id: 2\ndata\n\n: hb\n\nid: 3\n\n",
            b"data: a\r\n\r\ndata: b\n\r\n",
            b"id: bad\0id\ndata: nul\n\nfoo: bar\ndata:no space\n\n",
            b"data: \xF0\x9F\x98\n\nretry: x1\nevent: big\ndata: 0123456789012345678901234567890123456789\n\n",
            b"id\ndata: last\n\ndata: incomplete",
        ]
        .concat();
        let reference = {
            let mut p = Parser::new(32);
            let mut out = Vec::new();
            p.feed(&stream, &mut out);
            (out, p.last_event_id().map(str::to_string))
        };
        assert_eq!(events(&reference.0).len(), 10, "{:?}", reference.0);
        assert!(reference
            .0
            .iter()
            .any(|o| matches!(o, Output::Oversize { .. })));

        // Byte by byte.
        let mut p = Parser::new(32);
        let mut out = Vec::new();
        for b in &stream {
            p.feed(std::slice::from_ref(b), &mut out);
        }
        assert_eq!((out, p.last_event_id().map(str::to_string)), reference);

        // Random chunkings, including empty chunks.
        for seed in 0..500u64 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut p = Parser::new(32);
            let mut out = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let n = rng.usize(0..=rest.len().min(24));
                p.feed(&rest[..n], &mut out);
                rest = &rest[n..];
            }
            assert_eq!(
                (out, p.last_event_id().map(str::to_string)),
                reference,
                "seed {seed}"
            );
        }
    }
}
