//! Running guests: the wasmtime engine under Rotor's policy, the per-call
//! store and its limits, loaded plugins, warm instance pools and the CPU
//! shares between tenants.

pub(crate) mod cpu;
pub(crate) mod engine;
pub(crate) mod guest_log;
pub(crate) mod plugin;
pub(crate) mod store;
pub(crate) mod warm;
