//! The W3C trace context of a call, as Centrifugo forwards it: what ties
//! Rotor's `call` span to the client's trace.

/// A W3C trace context (`traceparent: 00-<trace id>-<parent id>-<flags>`),
/// as Centrifugo forwards it from the client's HTTP headers when its proxy
/// lists `traceparent` in `http_headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace, 32 lower-case hex digits.
    pub trace_id: String,
    /// The caller's span, 16 lower-case hex digits.
    pub parent_id: String,
}

impl TraceParent {
    /// The trace context among `headers`, if one is there and well formed.
    pub fn from_headers(headers: &[(String, String)]) -> Option<TraceParent> {
        let (_, value) = headers.iter().find(|(key, _)| key == "traceparent")?;
        let mut parts = value.trim().split('-');
        let (version, trace_id, parent_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |text: &str, len: usize| {
            text.len() == len
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let all_zero = |text: &str| text.bytes().all(|b| b == b'0');
        let valid = hex(version, 2)
            && version != "ff"
            && hex(trace_id, 32)
            && !all_zero(trace_id)
            && hex(parent_id, 16)
            && !all_zero(parent_id)
            && hex(flags, 2)
            && (version != "00" || parts.next().is_none());
        valid.then(|| TraceParent {
            trace_id: trace_id.to_owned(),
            parent_id: parent_id.to_owned(),
        })
    }
}
