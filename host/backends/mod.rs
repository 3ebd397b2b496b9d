//! The services behind host imports: the key-value store (in memory or
//! Redis) and the client of Centrifugo's server API.

pub(crate) mod centrifugo_client;
pub mod kv;
