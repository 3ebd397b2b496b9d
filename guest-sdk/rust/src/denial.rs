//! `Denial`: how a handler says no.

use std::fmt;

use crate::{
    CentrifugoError, ConnectReply, ConnectResult, Decision, Disconnect, MapPublishReply,
    MapPublishResult, MapRemoveReply, MapRemoveResult, NotifyCacheEmptyReply,
    NotifyChannelStateReply, PublishReply, PublishResult, RpcReply, RpcResult,
    SharedPollRefreshReply, SharedPollRefreshResult, SubscribeReply, SubscribeResult,
};

/// Why a connect, subscribe, publish or RPC is refused: an error for the
/// client's command, or the end of its connection.
///
/// Handlers return it as the `Err` of their `Result`; the export macros turn
/// it into the reply's `reject` or `disconnect` case.
///
/// ```
/// use rotor_sdk::Denial;
///
/// let denial = Denial::permission_denied();
/// assert!(matches!(denial, Denial::Error(ref error) if error.code == 103));
///
/// let denial = Denial::bad_request().with_message("data must be a JSON object");
/// assert_eq!(denial.to_string(), "error 107: data must be a JSON object");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// Fail the command with this error; the connection stays open.
    Error(CentrifugoError),
    /// Close the connection.
    Disconnect(Disconnect),
}

impl Denial {
    /// An error the client should not retry.
    ///
    /// Applications use codes 400–1999; the built-in codes below fit many
    /// cases.
    pub fn error(code: u32, message: impl Into<String>) -> Self {
        Self::Error(CentrifugoError {
            code,
            message: message.into(),
            temporary: false,
        })
    }

    /// An error the client may retry later.
    pub fn temporary(code: u32, message: impl Into<String>) -> Self {
        Self::Error(CentrifugoError {
            code,
            message: message.into(),
            temporary: true,
        })
    }

    /// Closes the connection: codes 4000–4499 let the client reconnect,
    /// 4500–4999 do not. Keep `reason` under 32 bytes.
    pub fn disconnect(code: u32, reason: impl Into<String>) -> Self {
        Self::Disconnect(Disconnect {
            code,
            reason: reason.into(),
        })
    }

    /// `100 internal server error`, temporary: something on the server side
    /// failed, such as a missing setting.
    pub fn internal() -> Self {
        Self::temporary(100, "internal server error")
    }

    /// `101 unauthorized`: the credentials are missing or wrong.
    pub fn unauthorized() -> Self {
        Self::error(101, "unauthorized")
    }

    /// `103 permission denied`: the user may not do this.
    pub fn permission_denied() -> Self {
        Self::error(103, "permission denied")
    }

    /// `104 method not found`: no such RPC method.
    pub fn method_not_found() -> Self {
        Self::error(104, "method not found")
    }

    /// `106 limit exceeded`: too many or too large.
    pub fn limit_exceeded() -> Self {
        Self::error(106, "limit exceeded")
    }

    /// `111 too many requests` (temporary): a rate limit was hit; clients retry later.
    pub fn too_many_requests() -> Self {
        Self::temporary(111, "too many requests")
    }

    /// `107 bad request`: the request's data is malformed.
    pub fn bad_request() -> Self {
        Self::error(107, "bad request")
    }

    /// `109 token expired`: the client should get a fresh token and retry.
    pub fn token_expired() -> Self {
        Self::error(109, "token expired")
    }

    /// The same denial with another message (or, for a disconnect, reason).
    pub fn with_message(self, message: impl Into<String>) -> Self {
        match self {
            Self::Error(error) => Self::Error(CentrifugoError {
                message: message.into(),
                ..error
            }),
            Self::Disconnect(disconnect) => Self::Disconnect(Disconnect {
                reason: message.into(),
                ..disconnect
            }),
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Error(error) => write!(f, "error {}: {}", error.code, error.message),
            Self::Disconnect(disconnect) => {
                write!(f, "disconnect {}: {}", disconnect.code, disconnect.reason)
            }
        }
    }
}

impl std::error::Error for Denial {}

impl From<CentrifugoError> for Denial {
    fn from(error: CentrifugoError) -> Self {
        Self::Error(error)
    }
}

impl From<Disconnect> for Denial {
    fn from(disconnect: Disconnect) -> Self {
        Self::Disconnect(disconnect)
    }
}

impl From<Denial> for Decision {
    fn from(denial: Denial) -> Self {
        match denial {
            Denial::Error(error) => Self::Reject(error),
            Denial::Disconnect(disconnect) => Self::Disconnect(disconnect),
        }
    }
}

/// Builds a reply variant from a result, a denial, or a `Result` of both.
macro_rules! reply_from {
    ($reply:ident, $result:ident) => {
        impl From<$result> for $reply {
            fn from(result: $result) -> Self {
                Self::Accept(result)
            }
        }

        impl From<Denial> for $reply {
            fn from(denial: Denial) -> Self {
                match denial {
                    Denial::Error(error) => Self::Reject(error),
                    Denial::Disconnect(disconnect) => Self::Disconnect(disconnect),
                }
            }
        }

        impl From<Result<$result, Denial>> for $reply {
            fn from(outcome: Result<$result, Denial>) -> Self {
                outcome.map_or_else(Self::from, Self::from)
            }
        }
    };
}

reply_from!(ConnectReply, ConnectResult);
reply_from!(SubscribeReply, SubscribeResult);
reply_from!(PublishReply, PublishResult);
reply_from!(RpcReply, RpcResult);
reply_from!(MapPublishReply, MapPublishResult);
reply_from!(MapRemoveReply, MapRemoveResult);

impl From<Result<SharedPollRefreshResult, CentrifugoError>> for SharedPollRefreshReply {
    fn from(outcome: Result<SharedPollRefreshResult, CentrifugoError>) -> Self {
        match outcome {
            Ok(result) => Self::Accept(result),
            Err(error) => Self::Reject(error),
        }
    }
}

impl From<Result<(), CentrifugoError>> for NotifyChannelStateReply {
    fn from(outcome: Result<(), CentrifugoError>) -> Self {
        match outcome {
            Ok(()) => Self::Accept,
            Err(error) => Self::Reject(error),
        }
    }
}

impl From<bool> for NotifyCacheEmptyReply {
    fn from(populated: bool) -> Self {
        Self { populated }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_and_temporary(denial: &Denial) -> (u32, bool) {
        match denial {
            Denial::Error(error) => (error.code, error.temporary),
            Denial::Disconnect(disconnect) => panic!("unexpected {disconnect:?}"),
        }
    }

    #[test]
    fn shorthands_use_centrifugos_built_in_codes() {
        assert_eq!(code_and_temporary(&Denial::internal()), (100, true));
        assert_eq!(code_and_temporary(&Denial::unauthorized()), (101, false));
        assert_eq!(
            code_and_temporary(&Denial::permission_denied()),
            (103, false)
        );
        assert_eq!(
            code_and_temporary(&Denial::method_not_found()),
            (104, false)
        );
        assert_eq!(code_and_temporary(&Denial::limit_exceeded()), (106, false));
        assert_eq!(code_and_temporary(&Denial::bad_request()), (107, false));
        assert_eq!(code_and_temporary(&Denial::token_expired()), (109, false));
        assert_eq!(
            code_and_temporary(&Denial::temporary(4000, "later")),
            (4000, true)
        );
    }

    #[test]
    fn with_message_keeps_the_code() {
        assert_eq!(
            Denial::bad_request().with_message("no"),
            Denial::error(107, "no")
        );
        assert_eq!(
            Denial::disconnect(4500, "bye").with_message("later"),
            Denial::disconnect(4500, "later")
        );
    }

    #[test]
    fn denials_become_reject_or_disconnect() {
        let reply = RpcReply::from(Err::<RpcResult, _>(Denial::method_not_found()));
        assert!(matches!(reply, RpcReply::Reject(ref error) if error.code == 104));

        let reply = ConnectReply::from(Denial::disconnect(4501, "bye"));
        assert_eq!(
            reply,
            ConnectReply::Disconnect(Disconnect {
                code: 4501,
                reason: "bye".to_string()
            })
        );

        let reply = PublishReply::from(Ok(PublishResult::default()));
        assert_eq!(reply, PublishReply::Accept(PublishResult::default()));

        let decision = Decision::from(Denial::from(CentrifugoError {
            code: 4000,
            message: "slow down".to_string(),
            temporary: true,
        }));
        assert!(matches!(decision, Decision::Reject(ref error) if error.code == 4000));
    }
}
