//! The W3C trace context of a call, as Centrifugo forwards it: what ties
//! Rotor's `call` span to the caller's trace; and the targets of the spans
//! a call opens, which say where each span goes.

/// The target of each call's `call` span: logged (its fields are the
/// context of every log line of the call) and, with `[telemetry] otlp`,
/// exported.
pub const CALL_TARGET: &str = "rotor::call";

/// The target of the spans of a call's steps (`before`, `handler`,
/// `after`): exported with `[telemetry] otlp`, never logged. With no
/// exporter no subscriber is interested in them, so they cost a call one
/// check of a cached flag per step.
pub const STEP_TARGET: &str = "rotor::step";

/// A W3C trace context (`traceparent: 00-<trace id>-<parent id>-<flags>`),
/// as Centrifugo forwards it from the client's HTTP headers when its proxy
/// lists `traceparent` in `http_headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace, 32 lower-case hex digits.
    pub trace_id: String,
    /// The caller's span, 16 lower-case hex digits.
    pub parent_id: String,
    /// The trace flags; bit 0 says the caller sampled the trace.
    pub flags: u8,
}

impl TraceParent {
    /// The trace context among `headers`, if one is there and well formed.
    ///
    /// Whatever context the call's metadata carries is the parent of
    /// Rotor's span: the one Centrifugo sends, be it the client's header
    /// (its proxy's `http_headers` lists `traceparent`) or its own span's.
    /// Of two `traceparent` entries, the first counts.
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
        if !valid {
            return None;
        }
        Some(TraceParent {
            trace_id: trace_id.to_owned(),
            parent_id: parent_id.to_owned(),
            flags: u8::from_str_radix(flags, 16).ok()?,
        })
    }
}

/// `span` if a subscriber wants it, else [`tracing::Span::none`]. A span
/// no subscriber wants still carries its metadata for tracing's `log`
/// compatibility (a dependency turns it on), which then checks the `log`
/// level at each enter, exit, record and drop of the span: a few hundred
/// instructions per call for spans nothing records. `Span::none()` skips
/// them all.
pub fn wanted(span: tracing::Span) -> tracing::Span {
    if span.is_disabled() {
        tracing::Span::none()
    } else {
        span
    }
}
