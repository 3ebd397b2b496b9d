//! End-to-end tests: Rotor serves real components over real gRPC on
//! loopback, and the tests play Centrifugo.

mod api;
mod cli;
mod examples;
mod faults;
mod interceptors;
mod languages;
mod lifecycle;
mod mapping;
mod reload;
mod routing;
mod support;
