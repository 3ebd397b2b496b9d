//! Pieces of the `rotor` command line kept out of `main.rs`: log setup,
//! error reports, notes on what a component imports, and `rotor new`.

pub mod imports;
pub mod logs;
pub mod new;
pub mod push;
pub mod remote;
pub mod report;
pub mod stream;
