//! The placeholder rule against the vectors both ends test with
//! (`shared/tests/vectors/placeholders.json`; the JavaScript side runs them in
//! tests/js/package/binary.test.mjs): a received binary packet is accepted or refused,
//! and its arguments come out, as the vectors say; arguments with binary parts are
//! written as the vectors' exact text and attachments.

use bytes::Bytes;
use sockeye_protocol::socket::{Args, Decoder, Packet, Parser};
use sockeye_protocol::{json, Value};

fn vectors() -> Value {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/placeholders.json"
    ))
    .expect("the vectors file");
    json::parse(&text).expect("the vectors are JSON")
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    match v.get(key) {
        Some(Value::Array(items)) => items,
        other => panic!("{key}: expected an array, got {other:?}"),
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key}: expected a string"))
}

fn count_of(v: &Value, key: &str) -> u64 {
    match v.get(key) {
        Some(Value::Number(n)) => n.as_u64().expect("a count"),
        other => panic!("{key}: expected a number, got {other:?}"),
    }
}

/// The vectors' markers as values: `{"$attachment": i}` is attachment i (its bytes are
/// `[i]` here), `{"$bytes": [...]}` binary data.
fn unmark(v: &Value) -> Value {
    match v {
        Value::Object(entries) if entries.len() == 1 && entries[0].0 == "$attachment" => {
            let Value::Number(i) = &entries[0].1 else {
                panic!("$attachment index")
            };
            Value::Binary(Bytes::from(vec![i.as_u64().unwrap() as u8]))
        }
        Value::Object(entries) if entries.len() == 1 && entries[0].0 == "$bytes" => {
            let Value::Array(bytes) = &entries[0].1 else {
                panic!("$bytes list")
            };
            let bytes = bytes
                .iter()
                .map(|b| match b {
                    Value::Number(n) => n.as_u64().unwrap() as u8,
                    _ => panic!("a byte"),
                })
                .collect::<Vec<u8>>();
            Value::Binary(bytes.into())
        }
        Value::Array(items) => Value::Array(items.iter().map(unmark).collect()),
        Value::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), unmark(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn received_packets_follow_the_vectors() {
    let vectors = vectors();
    let cases = list(&vectors, "reconstruct");
    assert!(cases.len() >= 30, "the vectors file lost its cases");
    for case in cases {
        let name = str_of(case, "name");
        let text = str_of(case, "json");
        let count = count_of(case, "attachments");
        let valid = matches!(case.get("valid"), Some(Value::Bool(true)));
        let mut decoder = Decoder::default();
        // A packet with no attachments is a plain EVENT; otherwise a BINARY_EVENT whose
        // attachment i is the one byte i.
        let mut result = if count == 0 {
            decoder.decode_text(format!("2{text}"))
        } else {
            decoder.decode_text(format!("5{count}-{text}"))
        };
        for i in 0..count {
            assert!(matches!(result, Ok(None)), "{name}: waits for attachments");
            result = decoder.decode_binary(Bytes::from(vec![i as u8]));
        }
        if !valid {
            assert!(result.is_err(), "{name}: must be refused, got {result:?}");
            continue;
        }
        let packet = result.unwrap_or_else(|e| panic!("{name}: refused: {e}"));
        let Some(Packet::Event { args, .. }) = packet else {
            panic!("{name}: not an event: {packet:?}");
        };
        let Some(Value::Array(expected)) = case.get("expected").map(unmark) else {
            panic!("{name}: expected is an array");
        };
        let values = args.values().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(values, expected[1..], "{name}");
    }
}

#[test]
fn sent_arguments_follow_the_vectors() {
    let vectors = vectors();
    let cases = list(&vectors, "deconstruct");
    assert!(cases.len() >= 5, "the vectors file lost its cases");
    for case in cases {
        let name = str_of(case, "name");
        let Some(Value::Array(values)) = case.get("value").map(unmark) else {
            panic!("{name}: value is an array");
        };
        let args = Args::from_values(Parser::Json, &values);
        let text = String::from_utf8(args.to_json_array(None)).unwrap();
        assert_eq!(text, str_of(case, "json"), "{name}");
        let expected: Vec<Bytes> = list(case, "attachments")
            .iter()
            .map(
                |a| match unmark(&Value::Object(vec![("$bytes".into(), a.clone())])) {
                    Value::Binary(b) => b,
                    _ => unreachable!(),
                },
            )
            .collect();
        assert_eq!(args.attachments(), expected, "{name}");
    }
}
