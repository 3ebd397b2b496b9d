//! The contract with Centrifugo and with guests: the WIT bindings, the
//! protobuf services, the request kinds and the conversion between them.
//! A leaf: it depends on nothing else in the crate.

pub(crate) mod channel_state;
pub(crate) mod convert;
pub(crate) mod json_bytes;
pub(crate) mod kind;
pub mod proto;
pub(crate) mod request_parts;
pub(crate) mod wit;
