//! Parses a long-poll response whose events are the array at a JSON
//! Pointer (`long_poll.items`) without ever holding all of them: the rest of
//! the document is parsed as usual (for the cursor and ids), the array's
//! first `max` elements are kept, and the others are only counted as the
//! parser skips them. A 1 MB response of 500,000 tiny items therefore costs
//! `max` items of memory, not 500,000.

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The elements of the array at the pointer.
#[derive(Debug, PartialEq)]
pub struct Items {
    /// The first `max` elements, in order.
    pub kept: Vec<Value>,
    /// How many elements the array had.
    pub total: usize,
}

/// A parsed response.
#[derive(Debug)]
pub struct Parsed {
    /// The document; where the array was, an empty array.
    pub doc: Value,
    /// The array at the pointer, if there was one (`None`: no such value,
    /// or not an array, which `doc` then still holds).
    pub items: Option<Items>,
}

/// Parses `body`, keeping at most `max` elements of the array at `pointer`.
pub fn parse(body: &[u8], pointer: &str, max: usize) -> Result<Parsed, serde_json::Error> {
    let mut items = None;
    let doc = if pointer.is_empty() || pointer.starts_with('/') {
        let path: Vec<String> = pointer
            .split('/')
            .skip(1)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        let mut de = serde_json::Deserializer::from_slice(body);
        let doc = Walk {
            path: &path,
            max,
            out: &mut items,
        }
        .deserialize(&mut de)?;
        de.end()?;
        doc
    } else {
        // Not a JSON Pointer (validation refuses it): nothing is there.
        serde_json::from_slice(body)?
    };
    Ok(Parsed { doc, items })
}

/// Builds the document, walking down `path` to the array.
struct Walk<'a> {
    /// What is left of the pointer below this value.
    path: &'a [String],
    max: usize,
    out: &'a mut Option<Items>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let Some((first, rest)) = self.path.split_first() else {
            // The array of events.
            let mut kept = Vec::new();
            let mut total = 0usize;
            while total < self.max {
                match seq.next_element::<Value>()? {
                    Some(v) => kept.push(v),
                    None => break,
                }
                total += 1;
            }
            if total == self.max {
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    total += 1;
                }
            }
            *self.out = Some(Items { kept, total });
            return Ok(Value::Array(Vec::new()));
        };
        let index = first.parse::<usize>().ok();
        let mut list = Vec::new();
        loop {
            let next = if index == Some(list.len()) {
                seq.next_element_seed(Walk {
                    path: rest,
                    max: self.max,
                    out: &mut *self.out,
                })?
            } else {
                seq.next_element::<Value>()?
            };
            match next {
                Some(v) => list.push(v),
                None => return Ok(Value::Array(list)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match self.path.split_first() {
                Some((first, rest)) if *first == key => map.next_value_seed(Walk {
                    path: rest,
                    max: self.max,
                    out: &mut *self.out,
                })?,
                _ => map.next_value::<Value>()?,
            };
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(body: &str, pointer: &str, max: usize) -> Parsed {
        parse(body.as_bytes(), pointer, max).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_array_is_capped_and_the_rest_counted() {
        let r = p(
            r#"{"cursor": 9, "events": [{"n":1},{"n":2},{"n":3}], "more": [1]}"#,
            "/events",
            2,
        );
        assert_eq!(
            r.items,
            Some(Items {
                kept: vec![json!({"n":1}), json!({"n":2})],
                total: 3
            })
        );
        assert_eq!(r.doc, json!({"cursor": 9, "events": [], "more": [1]}));
    }

    #[test]
    fn nested_pointers_indices_and_escapes() {
        let r = p(r#"{"a/b": [0, {"x~": [1, 2]}]}"#, "/a~1b/1/x~0", 10);
        assert_eq!(r.items.map(|i| i.kept), Some(vec![json!(1), json!(2)]));
        let r = p(r#"[1, 2, 3]"#, "", 1);
        assert_eq!(
            r.items.map(|i| (i.kept, i.total)),
            Some((vec![json!(1)], 3))
        );
    }

    #[test]
    fn missing_or_not_an_array_leaves_the_document_whole() {
        let body = r#"{"events": {"n": 1}, "f": 1.5, "s": "x", "z": null, "t": true, "i": -3}"#;
        let r = p(body, "/events", 10);
        assert_eq!(r.items, None);
        assert_eq!(r.doc, serde_json::from_str::<Value>(body).unwrap());
        let r = p(r#"{"other": []}"#, "/events", 10);
        assert_eq!(r.items, None);
    }

    #[test]
    fn invalid_json_is_an_error() {
        assert!(parse(b"{\"events\": [1,", "/events", 10).is_err());
        assert!(parse(b"{} trailing", "/events", 10).is_err());
    }
}
