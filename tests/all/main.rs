//! End-to-end tests: Rotor serves real components over real gRPC on
//! loopback, and the tests play Centrifugo.

mod cli;
mod faults;
mod interceptors;
mod mapping;
mod reload;
mod routing;
mod support;
