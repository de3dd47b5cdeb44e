//! The open packet's data: what the server tells a new client about the connection.
//!
//! Not to be confused with the HTTP request that opened the session, which the server
//! calls the handshake (socket.io's `socket.handshake`).

use crate::json::{self, JsonError, Reader};

/// The JSON carried by the open packet (`0{...}`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "camelCase")
)]
pub struct OpenPacket {
    /// The session id; later requests name it in the `sid` query parameter.
    pub sid: String,
    /// Transports the client may upgrade to (`["websocket"]` on polling, `[]` on WebSocket).
    pub upgrades: Vec<String>,
    /// Milliseconds between the server's pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong before closing.
    pub ping_timeout: u64,
    /// The largest payload, in bytes, the server accepts in one polling request or frame.
    pub max_payload: u64,
}

impl OpenPacket {
    /// Reads the open packet's JSON; members it does not know are skipped.
    pub fn from_json(text: &str) -> Result<OpenPacket, JsonError> {
        let mut r = Reader::new(text.as_bytes());
        if !r.eat(b'{') {
            return Err(JsonError::Shape);
        }
        let (mut sid, mut upgrades, mut interval, mut timeout, mut max) =
            (None, None, None, None, None);
        let mut first = true;
        while let Some(key) = r.next_key(first)? {
            first = false;
            let number =
                |r: &mut Reader<'_>| r.number()?.parse::<u64>().map_err(|_| JsonError::Shape);
            match &*key {
                "sid" => sid = Some(r.string()?.into_owned()),
                "upgrades" => {
                    if !r.eat(b'[') {
                        return Err(JsonError::Shape);
                    }
                    let mut list = Vec::new();
                    while r.next_element(list.is_empty())? {
                        list.push(r.string()?.into_owned());
                    }
                    upgrades = Some(list);
                }
                "pingInterval" => interval = Some(number(&mut r)?),
                "pingTimeout" => timeout = Some(number(&mut r)?),
                "maxPayload" => max = Some(number(&mut r)?),
                _ => r.skip(json::MAX_DEPTH - 1)?,
            }
        }
        r.end()?;
        Ok(OpenPacket {
            sid: sid.ok_or(JsonError::Shape)?,
            upgrades: upgrades.ok_or(JsonError::Shape)?,
            ping_interval: interval.ok_or(JsonError::Shape)?,
            ping_timeout: timeout.ok_or(JsonError::Shape)?,
            max_payload: max.ok_or(JsonError::Shape)?,
        })
    }

    /// Writes the open packet's JSON.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"sid":"#);
        json::write_str(out, &self.sid);
        out.extend_from_slice(br#","upgrades":["#);
        for (i, upgrade) in self.upgrades.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::write_str(out, upgrade);
        }
        out.extend_from_slice(br#"],"pingInterval":"#);
        json::write_u64(out, self.ping_interval);
        out.extend_from_slice(br#","pingTimeout":"#);
        json::write_u64(out, self.ping_timeout);
        out.extend_from_slice(br#","maxPayload":"#);
        json::write_u64(out, self.max_payload);
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_the_protocol_field_names() {
        let h = OpenPacket {
            sid: "lv_VI97HAXpY6yYWAAAC".into(),
            upgrades: vec!["websocket".into()],
            ping_interval: 25000,
            ping_timeout: 20000,
            max_payload: 1000000,
        };
        let mut out = Vec::new();
        h.write_json(&mut out);
        let json = String::from_utf8(out).unwrap();
        assert_eq!(
            json,
            r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        assert_eq!(OpenPacket::from_json(&json).unwrap(), h);
        let extra =
            r#"{"x":[{}],"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":2,"maxPayload":3}"#;
        assert_eq!(OpenPacket::from_json(extra).unwrap().max_payload, 3);
        assert!(OpenPacket::from_json(r#"{"sid":"a"}"#).is_err());
    }
}
