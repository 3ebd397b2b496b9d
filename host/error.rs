//! Rotor's error types, and the one place where a failed call becomes what
//! Centrifugo reads.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use crate::contract::convert::InvalidReply;
use crate::contract::kind::RequestKind;

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The plugin file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a valid WebAssembly component.
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    /// The component imports something Rotor does not provide.
    #[error("imports what Rotor does not grant: {0}")]
    Imports(String),
    /// The component exports none of Rotor's interfaces, or a wrong version.
    #[error(
        "exports no Rotor interface (expected one of the `rotor:centrifugo` handler or interceptor interfaces)"
    )]
    NoExports,
    /// A route needs an interface the component does not export.
    #[error("does not export `{needed}` (it exports: {exports})")]
    MissingExport {
        /// The interface the route needs.
        needed: &'static str,
        /// What the component does export.
        exports: String,
    },
    /// The component imports a host interface its tenant was not granted.
    #[error("imports `{import}`, which tenant `{tenant}` is not granted (it is granted: {grants})")]
    NotGranted {
        /// The import.
        import: String,
        /// The tenant.
        tenant: String,
        /// What the tenant is granted.
        grants: crate::policy::Grants,
    },
    /// The engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
}

impl PluginError {
    pub(crate) fn engine(error: impl fmt::Display) -> PluginError {
        PluginError::Engine(format!("{error:#}"))
    }
}

/// How a call failed before a valid reply came back.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No plugin answers this request type (or this channel/method).
    #[error("no handler is configured for {0}")]
    NoRoute(String),
    /// The limit of concurrent calls is reached.
    #[error("too many concurrent calls")]
    Busy,
    /// The call maps to no configured tenant.
    #[error("no tenant for this call: {0}")]
    NoTenant(String),
    /// The request is larger than its tenant accepts.
    #[error("the request is {size} bytes, over the tenant's limit of {limit} bytes")]
    TooLarge {
        /// The request's encoded size.
        size: u64,
        /// The tenant's `max_request`.
        limit: u64,
    },
    /// The guest failed: a trap, a deadline, a limit, or an invalid reply.
    #[error("plugin {plugin} failed: {fault}")]
    Guest {
        /// The plugin's name.
        plugin: String,
        /// What went wrong.
        fault: GuestFault,
    },
}

/// What went wrong inside a guest.
#[derive(Debug, thiserror::Error)]
pub enum GuestFault {
    /// The guest ran past its CPU deadline and was interrupted.
    #[error("deadline exceeded")]
    Deadline,
    /// The guest asked for more memory than its limit.
    #[error("memory limit exceeded")]
    OutOfMemory,
    /// The guest used up its fuel.
    #[error("fuel exhausted")]
    OutOfFuel,
    /// The guest trapped: a panic, an `unreachable`, a stack overflow…
    #[error("trapped: {0}")]
    Trap(String),
    /// The guest could not be instantiated.
    #[error("cannot instantiate: {0}")]
    Instantiate(String),
    /// The guest answered with a value Centrifugo cannot accept.
    #[error("invalid reply: {0}")]
    InvalidReply(String),
}

impl From<InvalidReply> for GuestFault {
    fn from(InvalidReply(message): InvalidReply) -> GuestFault {
        GuestFault::InvalidReply(message)
    }
}

impl GuestFault {
    /// Every [`GuestFault::kind`], as metrics label them.
    pub const KINDS: [&'static str; 6] = [
        "deadline",
        "out_of_memory",
        "out_of_fuel",
        "trap",
        "instantiate",
        "invalid_reply",
    ];

    /// A short, stable name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            GuestFault::Deadline => "deadline",
            GuestFault::OutOfMemory => "out_of_memory",
            GuestFault::OutOfFuel => "out_of_fuel",
            GuestFault::Trap(_) => "trap",
            GuestFault::Instantiate(_) => "instantiate",
            GuestFault::InvalidReply(_) => "invalid_reply",
        }
    }
}

/// Centrifugo's code for "internal server error": what a client sees when a
/// plugin fails (temporary, so it retries).
pub const INTERNAL_ERROR: u32 = 100;
/// Centrifugo's code for "too many requests" (temporary).
pub const TOO_MANY_REQUESTS: u32 = 111;

/// What a refresh or sub-refresh answers when it fails because the tenant
/// is at its concurrency limit or a plugin fails (a tenant's
/// `on_refresh_failure`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshFailure {
    /// A gRPC error: Centrifugo keeps the connection (or subscription) for
    /// another 60 s and asks again. A passing fault never disconnects
    /// anyone, but a plugin that always fails keeps connections alive past
    /// their expiry.
    #[default]
    Extend,
    /// Answer `expired`: Centrifugo ends the connection (or subscription)
    /// and the client must connect (or subscribe) again.
    Expire,
}

/// What a failed call answers Centrifugo.
#[derive(Debug, Clone)]
pub enum FailureReply {
    /// An OK response carrying this Centrifugo error: the client sees it.
    Error {
        /// Centrifugo error code.
        code: u32,
        /// Message for the client, or for Centrifugo's log on a call no
        /// client is on.
        message: Cow<'static, str>,
    },
    /// A gRPC status: Centrifugo treats it as the backend being unavailable
    /// (error 100 for most calls; for refreshes it extends by 60 s and asks
    /// again, which is the only safe way to fail a refresh).
    Status(tonic::Status),
}

impl CallError {
    /// Maps a failure to its answer: the single place that decides what
    /// Centrifugo (and so the client) sees when a call fails.
    pub fn reply(&self, kind: RequestKind) -> FailureReply {
        match self {
            CallError::NoRoute(what) => FailureReply::Status(tonic::Status::unimplemented(
                format!("no handler is configured for {what}"),
            )),
            CallError::NoTenant(_) => {
                FailureReply::Status(tonic::Status::permission_denied(self.to_string()))
            }
            CallError::TooLarge { .. } => {
                FailureReply::Status(tonic::Status::invalid_argument(self.to_string()))
            }
            // Refreshes ignore errors and a cache-empty response has none.
            _ if !kind.has_error_reply() => FailureReply::Status(match self {
                CallError::Busy => tonic::Status::resource_exhausted(self.to_string()),
                // Centrifugo logs the status: what the guest wrote (its
                // stderr, the values of a refused reply) stays in Rotor's log.
                CallError::Guest { plugin, fault } => tonic::Status::internal(format!(
                    "plugin {plugin} failed ({}); Rotor's log has the details",
                    fault.kind()
                )),
                _ => tonic::Status::internal(self.to_string()),
            }),
            CallError::Busy => FailureReply::Error {
                code: TOO_MANY_REQUESTS,
                message: Cow::Borrowed("too many requests"),
            },
            // No client reads the error of a call Centrifugo makes on its
            // own (a shared poll refresh, a channel-state batch): Centrifugo
            // logs its message and nothing else, so it names the plugin and
            // the kind of fault, as a refresh's status does, and never what
            // the guest wrote.
            CallError::Guest { plugin, fault } if !kind.has_client() => FailureReply::Error {
                code: INTERNAL_ERROR,
                message: Cow::Owned(format!(
                    "plugin {plugin} failed ({}); Rotor's log has the details",
                    fault.kind()
                )),
            },
            CallError::Guest { .. } => FailureReply::Error {
                code: INTERNAL_ERROR,
                message: Cow::Borrowed("internal server error"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_faults_fail_closed_and_temporary() {
        let fault = CallError::Guest {
            plugin: "p.wasm".into(),
            fault: GuestFault::Trap("unreachable".into()),
        };
        assert!(matches!(
            fault.reply(RequestKind::Subscribe),
            FailureReply::Error { code: 100, message } if message == "internal server error"
        ));
        assert!(
            matches!(fault.reply(RequestKind::Refresh), FailureReply::Status(s) if s.code() == tonic::Code::Internal)
        );
        assert!(matches!(
            CallError::NoRoute("rpc".into()).reply(RequestKind::Rpc),
            FailureReply::Status(s) if s.code() == tonic::Code::Unimplemented
        ));
        assert!(matches!(
            CallError::Busy.reply(RequestKind::Publish),
            FailureReply::Error { code: 111, .. }
        ));
        for kind in [
            RequestKind::MapPublish,
            RequestKind::MapRemove,
            RequestKind::SharedPollRefresh,
            RequestKind::NotifyChannelState,
        ] {
            assert!(
                matches!(fault.reply(kind), FailureReply::Error { code: 100, .. }),
                "{kind}"
            );
        }
        assert!(matches!(
            CallError::Busy.reply(RequestKind::NotifyCacheEmpty),
            FailureReply::Status(s) if s.code() == tonic::Code::ResourceExhausted
        ));
    }

    /// Centrifugo logs only the message of a failed shared poll refresh
    /// (seen behind the real Centrifugo): it names the plugin, as a
    /// refresh's status does, while a client's call keeps the plain
    /// message.
    #[test]
    fn a_fault_of_a_call_no_client_is_on_names_the_plugin_in_the_error() {
        let fault = CallError::Guest {
            plugin: "poll.wasm".into(),
            fault: GuestFault::Trap("wasm trap: unreachable; guest stderr: secret 1234".into()),
        };
        for kind in [
            RequestKind::SharedPollRefresh,
            RequestKind::NotifyChannelState,
        ] {
            let FailureReply::Error { code, message } = fault.reply(kind) else {
                panic!("an error reply");
            };
            assert_eq!(code, INTERNAL_ERROR);
            assert_eq!(
                message,
                "plugin poll.wasm failed (trap); Rotor's log has the details"
            );
        }
        for kind in [RequestKind::MapPublish, RequestKind::Rpc] {
            let FailureReply::Error { message, .. } = fault.reply(kind) else {
                panic!("an error reply");
            };
            assert_eq!(message, "internal server error", "{kind}");
        }
    }

    /// Finding 13 of the hardening review: a failed refresh's status
    /// carried the guest's stderr to Centrifugo, which logs it.
    #[test]
    fn a_refresh_fault_status_carries_no_guest_output() {
        let fault = CallError::Guest {
            plugin: "refresh.wasm".into(),
            fault: GuestFault::Trap(
                "wasm trap: unreachable; guest stderr: panicked at secret 1234".into(),
            ),
        };
        for kind in [
            RequestKind::Refresh,
            RequestKind::SubRefresh,
            RequestKind::NotifyCacheEmpty,
        ] {
            let FailureReply::Status(status) = fault.reply(kind) else {
                panic!("a status");
            };
            assert_eq!(status.code(), tonic::Code::Internal);
            assert!(status.message().contains("refresh.wasm"), "{status}");
            assert!(status.message().contains("trap"), "{status}");
            assert!(!status.message().contains("secret"), "{status}");
            assert!(!status.message().contains("stderr"), "{status}");
        }
    }
}
