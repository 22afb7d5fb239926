//! Validation of `websocket.id_pointer` and the `{last_id}` placeholder.

use telltale_model::config::validate_feed;
use telltale_model::feed::WebsocketOptions;
use telltale_model::{FeedConfig, TransportKind};

fn ws(opts: WebsocketOptions) -> Vec<(String, String)> {
    let mut f = FeedConfig::new("ws", TransportKind::Websocket, "ws://127.0.0.1:1/ws");
    f.websocket = Some(opts);
    validate_feed(&f)
}

#[test]
fn an_id_pointer_must_be_a_json_pointer() {
    let problems = ws(WebsocketOptions {
        id_pointer: Some("id".into()),
        ..WebsocketOptions::default()
    });
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, "websocket.id_pointer");
    let fine = ws(WebsocketOptions {
        id_pointer: Some("/id".into()),
        subscribe: vec!["since={last_id}".into()],
        ..WebsocketOptions::default()
    });
    assert!(fine.is_empty(), "{fine:?}");
}

#[test]
fn last_id_in_a_subscription_needs_an_id_pointer() {
    let problems = ws(WebsocketOptions {
        subscribe: vec![r#"{"since":"{last_id}"}"#.into()],
        ..WebsocketOptions::default()
    });
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, "websocket.subscribe");
    assert!(problems[0].1.contains("websocket.id_pointer"));
}

#[test]
fn the_id_pointer_round_trips_through_toml_and_is_omitted_when_unset() {
    let text = "subscribe = ['since={last_id}']\nid_pointer = \"/seq\"\n";
    let o: WebsocketOptions = toml::from_str(text).unwrap_or_default();
    assert_eq!(o.id_pointer.as_deref(), Some("/seq"));
    let plain = toml::to_string(&WebsocketOptions::default()).unwrap_or_default();
    assert!(!plain.contains("id_pointer"), "{plain}");
}
