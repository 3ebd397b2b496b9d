//! What Rotor gives a component for each interface it imports, for
//! `rotor check`: compilers link WASI interfaces that a sandboxed guest gets
//! only an empty or refusing version of, and the list would otherwise
//! suggest it may read the environment or the network.

/// A short note on what a guest gets for `import` (an interface name such
/// as `wasi:cli/environment@0.2.6`), or `None` for an unknown interface.
pub fn note(import: &str) -> Option<&'static str> {
    let interface = import.split('@').next().unwrap_or(import);
    let note = match interface {
        "wasi:cli/environment" => "empty: no environment variables, no arguments",
        "wasi:cli/stdin" => "empty: reads end at once",
        "wasi:cli/stdout" => "discarded: log with the `log` import",
        "wasi:cli/stderr" => "kept per call, up to 4 KiB, for the log line of a fault",
        "wasi:cli/exit" => "ends the call as a fault",
        "wasi:cli/terminal-input"
        | "wasi:cli/terminal-output"
        | "wasi:cli/terminal-stdin"
        | "wasi:cli/terminal-stdout"
        | "wasi:cli/terminal-stderr" => "no terminal",
        "wasi:filesystem/types" | "wasi:filesystem/preopens" => "no files: nothing is preopened",
        "wasi:sockets/network"
        | "wasi:sockets/instance-network"
        | "wasi:sockets/tcp"
        | "wasi:sockets/tcp-create-socket"
        | "wasi:sockets/udp"
        | "wasi:sockets/udp-create-socket"
        | "wasi:sockets/ip-name-lookup" => "no network: every address is refused",
        "wasi:clocks/wall-clock" | "wasi:clocks/monotonic-clock" => "the host's clock",
        "wasi:random/random" | "wasi:random/insecure" | "wasi:random/insecure-seed" => {
            "the host's randomness"
        }
        "wasi:io/error" | "wasi:io/streams" | "wasi:io/poll" => "streams, for the interfaces above",
        "rotor:centrifugo/types" => "the request and reply records",
        "rotor:centrifugo/log" => "host import, granted by default: lines go to Rotor's log",
        "rotor:centrifugo/config" => "host import, granted by default: the plugin's settings",
        "rotor:centrifugo/kv" => "host import, granted by default: the tenant's key-value store",
        "rotor:centrifugo/centrifugo-api" => {
            "host import, only where granted: Centrifugo's server API"
        }
        "rotor:centrifugo/stream" => {
            "host import: a subscription stream's publications, timer and end; outside a stream, publish fails"
        }
        _ => return None,
    };
    Some(note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_do_not_matter_and_unknown_interfaces_get_no_note() {
        assert_eq!(
            note("wasi:cli/environment@0.2.6"),
            note("wasi:cli/environment@0.2.0")
        );
        assert!(note("wasi:cli/environment@0.2.6").is_some_and(|note| note.starts_with("empty")));
        assert!(
            note("rotor:centrifugo/centrifugo-api@0.1.0")
                .is_some_and(|note| note.contains("only where granted"))
        );
        assert_eq!(note("example:thing/else@1.0.0"), None);
    }
}
