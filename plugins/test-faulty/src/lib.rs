//! Test fixture: a guest that misbehaves on demand, so tests can check that
//! the host turns every kind of guest fault into a defined error reply and
//! keeps serving. Reads no config keys.
//!
//! Exports `rpc-handler` and `connect-handler`.
//!
//! **rpc**, by method:
//! - `trap`: panics (a wasm trap);
//! - `loop`: spins forever, until the host's deadline interrupts it;
//! - `oom`: allocates and writes memory without end, until an allocation
//!   fails (a trap) or the host's memory limit stops it;
//! - `stack`: recurses without end, until the wasm stack overflows (a trap);
//! - `count`: answers with the number of `count` calls this instance has
//!   served, itself included, as decimal text: always `1` with a fresh
//!   instance per call, more when the host reuses instances;
//! - anything else: accepts and answers with the call's data as it is.
//!
//! **connect**: always panics.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use rotor_sdk::{Connect, ConnectRequest, ConnectResult, Denial, Rpc, RpcRequest, RpcResult};

/// Bytes added per step of `oom`: large enough to reach any limit quickly,
/// small enough that the last allocation before the limit still succeeds.
const OOM_STEP_BYTES: usize = 64 * 1024;

/// Stack bytes each `stack` frame keeps alive, so the overflow comes fast.
const STACK_FRAME_BYTES: usize = 1024;

/// `count` calls this instance has served: state that only survives a call
/// when the host reuses the instance.
static COUNTED: AtomicU64 = AtomicU64::new(0);

/// The component: one type answers both kinds.
struct Faulty;

rotor_sdk::export_rpc!(Faulty);
rotor_sdk::export_connect!(Faulty);

impl Rpc for Faulty {
    fn rpc(request: RpcRequest) -> Result<RpcResult, Denial> {
        match request.method.as_str() {
            "trap" => panic!("test-faulty: trap requested"),
            "loop" => spin_forever(),
            "oom" => exhaust_memory(),
            "count" => {
                let calls = COUNTED.fetch_add(1, Ordering::Relaxed) + 1;
                Ok(RpcResult::data(calls.to_string()))
            }
            "stack" => {
                let depth = recurse(0);
                Ok(RpcResult::data(depth.to_string()))
            }
            _ => Ok(RpcResult::data(request.data)),
        }
    }
}

impl Connect for Faulty {
    fn connect(_request: ConnectRequest) -> Result<ConnectResult, Denial> {
        panic!("test-faulty: connect always traps")
    }
}

/// Never returns; `black_box` keeps the loop from being optimised away.
fn spin_forever() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Never returns: grows a vector and writes every byte added.
fn exhaust_memory() -> ! {
    let mut memory: Vec<u8> = Vec::new();
    loop {
        memory.extend(std::iter::repeat_n(0xA5, OOM_STEP_BYTES));
        black_box(&mut memory);
    }
}

/// Recurses until the stack runs out; the opaque condition keeps the
/// compiler from proving the recursion endless or turning it into a loop.
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth as u8; STACK_FRAME_BYTES]);
    if black_box(depth == u64::MAX) {
        return depth;
    }
    recurse(depth + 1) + u64::from(frame[STACK_FRAME_BYTES - 1])
}

#[cfg(test)]
mod tests {
    use rotor_sdk::Connection;

    use super::*;

    fn rpc(method: &str) -> RpcRequest {
        RpcRequest {
            conn: Connection {
                client: "c".to_string(),
                transport: "websocket".to_string(),
                protocol: "json".to_string(),
                encoding: "json".to_string(),
            },
            headers: Vec::new(),
            user: String::new(),
            method: method.to_string(),
            data: b"payload".to_vec(),
            meta: Vec::new(),
            labels: Vec::new(),
        }
    }

    #[test]
    fn other_methods_echo() {
        assert_eq!(
            Faulty::rpc(rpc("echo")),
            Ok(RpcResult::data(b"payload".to_vec()))
        );
        assert_eq!(
            Faulty::rpc(rpc("")),
            Ok(RpcResult::data(b"payload".to_vec()))
        );
    }

    #[test]
    #[should_panic(expected = "trap requested")]
    fn trap_panics() {
        let _ = Faulty::rpc(rpc("trap"));
    }

    #[test]
    #[should_panic(expected = "always traps")]
    fn connect_panics() {
        let request = ConnectRequest {
            conn: rpc("").conn,
            headers: Vec::new(),
            name: String::new(),
            version: String::new(),
            data: Vec::new(),
            channels: Vec::new(),
        };
        let _ = Faulty::connect(request);
    }
}
