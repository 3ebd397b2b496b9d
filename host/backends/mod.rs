//! The services Rotor talks to: the key-value store (in memory or Redis)
//! behind the `kv` import, the client of Centrifugo's server API, and the
//! OCI registries plugins are pulled from.

pub(crate) mod centrifugo_client;
pub mod kv;
pub mod oci;
