//! Running guests: the wasmtime engine under Rotor's policy, the per-call
//! store and its limits, loaded plugins, warm instance pools, the CPU
//! shares between tenants, and the outbox of a stream's callbacks.

pub(crate) mod cpu;
pub(crate) mod engine;
pub(crate) mod guest_log;
pub(crate) mod outbox;
pub(crate) mod plugin;
pub(crate) mod store;
pub(crate) mod warm;
