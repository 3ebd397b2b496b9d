//! The client of Centrifugo's server API behind the `centrifugo-api` import:
//! one shared gRPC channel, the API key attached to every call, a timeout
//! that fits inside the proxy call's deadline, and Centrifugo's `error`
//! field checked before its `result`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

use crate::config::ApiConfig;
use crate::contract::kind::Naming;
use crate::contract::proto::api as pb;
use crate::contract::proto::api::centrifugo_api_client::CentrifugoApiClient;
use crate::contract::wit::centrifugo_api::{ApiError, CentrifugoFailure};
use crate::telemetry::Metrics;

/// A connected (lazily) API client, shared by every call.
#[derive(Debug, Clone)]
pub struct ApiClient {
    client: CentrifugoApiClient<Channel>,
    key: Option<MetadataValue<tonic::metadata::Ascii>>,
    timeout: Duration,
    namespaces: Option<Vec<String>>,
    naming: Naming,
    meter: Option<Meter>,
}

/// Where a tenant's API calls are counted.
#[derive(Debug, Clone)]
struct Meter {
    tenant: String,
    metrics: Arc<Metrics>,
}

/// Why the API client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ApiSetupError {
    /// The address is not a valid URI.
    #[error("invalid Centrifugo API address `{0}`")]
    Address(String),
    /// The key cannot be sent in a header.
    #[error("the Centrifugo API key is not a valid header value")]
    Key,
}

impl ApiClient {
    /// A client for `config`; it connects on first use and reconnects as needed.
    pub fn new(config: &ApiConfig) -> Result<ApiClient, ApiSetupError> {
        let endpoint = Endpoint::from_shared(config.address.clone())
            .map_err(|_| ApiSetupError::Address(config.address.clone()))?
            .connect_timeout(config.timeout);
        let key = config
            .key
            .as_ref()
            .map(|key| {
                format!("apikey {key}")
                    .parse::<MetadataValue<tonic::metadata::Ascii>>()
                    .map(|mut value| {
                        // So that `Debug` of the client never prints it.
                        value.set_sensitive(true);
                        value
                    })
                    .map_err(|_| ApiSetupError::Key)
            })
            .transpose()?;
        Ok(ApiClient {
            client: CentrifugoApiClient::new(endpoint.connect_lazy()),
            key,
            timeout: config.timeout,
            namespaces: config.namespaces.clone(),
            naming: Naming::default(),
            meter: None,
        })
    }

    /// This client for `tenant`'s guests: limited to the channel namespaces
    /// `namespaces` (`None`: all), read out of channel names with `naming`
    /// as Centrifugo reads them, its calls counted in `metrics` under the
    /// tenant's name. It shares the connection.
    pub fn for_tenant(
        &self,
        tenant: &str,
        namespaces: Option<Vec<String>>,
        naming: Naming,
        metrics: Arc<Metrics>,
    ) -> ApiClient {
        ApiClient {
            namespaces,
            naming,
            meter: Some(Meter {
                tenant: tenant.to_owned(),
                metrics,
            }),
            ..self.clone()
        }
    }

    /// Fails unless plugins may touch `channel`.
    pub fn check_channel(&self, channel: &str) -> Result<(), ApiError> {
        let Some(allowed) = &self.namespaces else {
            return Ok(());
        };
        let namespace = self.naming.channel_namespace(channel).unwrap_or("");
        if allowed.iter().any(|granted| granted == namespace) {
            Ok(())
        } else {
            Err(ApiError::Denied(format!(
                "channel `{channel}`: namespace `{namespace}` is not granted"
            )))
        }
    }

    /// Sends one API call, bounded by the configured timeout and `deadline`.
    pub async fn send<Q, R, F, Fut>(
        &self,
        deadline: Instant,
        message: Q,
        rpc: F,
    ) -> Result<R::Result, ApiError>
    where
        R: ApiResponse,
        F: FnOnce(CentrifugoApiClient<Channel>, tonic::Request<Q>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        let timing = self.meter.as_ref().map(|meter| {
            meter
                .metrics
                .host_call(&meter.tenant, "centrifugo-api", R::METHOD)
        });
        let result = self.send_uncounted(deadline, message, rpc).await;
        if let Some(timing) = timing {
            timing.finish(match &result {
                Ok(_) => "ok",
                Err(ApiError::Centrifugo(_)) => "centrifugo",
                Err(ApiError::Denied(_)) => "denied",
                Err(ApiError::Unavailable(_)) => "unavailable",
                Err(ApiError::Timeout) => "timeout",
            });
        }
        result
    }

    async fn send_uncounted<Q, R, F, Fut>(
        &self,
        deadline: Instant,
        message: Q,
        rpc: F,
    ) -> Result<R::Result, ApiError>
    where
        R: ApiResponse,
        F: FnOnce(CentrifugoApiClient<Channel>, tonic::Request<Q>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        let timeout = self
            .timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        if timeout.is_zero() {
            return Err(ApiError::Timeout);
        }
        let mut request = tonic::Request::new(message);
        request.set_timeout(timeout);
        if let Some(key) = &self.key {
            request.metadata_mut().insert("authorization", key.clone());
        }
        let response = match tokio::time::timeout(timeout, rpc(self.client.clone(), request)).await
        {
            Err(_) => return Err(ApiError::Timeout),
            Ok(Err(status)) => return Err(status_error(&status)),
            Ok(Ok(response)) => response.into_inner(),
        };
        let (error, result) = response.split();
        match error {
            Some(error) if error.code != 0 => Err(ApiError::Centrifugo(CentrifugoFailure {
                code: error.code,
                message: error.message,
            })),
            _ => Ok(result.unwrap_or_default()),
        }
    }
}

/// What a gRPC failure of the API means to a guest.
fn status_error(status: &tonic::Status) -> ApiError {
    match status.code() {
        tonic::Code::DeadlineExceeded => ApiError::Timeout,
        tonic::Code::Unauthenticated => {
            ApiError::Unavailable("Centrifugo refused Rotor's API key".into())
        }
        code => ApiError::Unavailable(format!("{code}: {}", status.message())),
    }
}

/// A response of Centrifugo's API: an `error`, or a `result`.
pub trait ApiResponse {
    /// The API method, as metrics name it.
    const METHOD: &'static str;
    /// The result message.
    type Result: Default;
    /// The error and the result.
    fn split(self) -> (Option<pb::Error>, Option<Self::Result>);
}

macro_rules! api_responses {
    ($($response:ident => $result:ident: $method:literal),* $(,)?) => {
        $(
            impl ApiResponse for pb::$response {
                const METHOD: &'static str = $method;
                type Result = pb::$result;
                fn split(self) -> (Option<pb::Error>, Option<pb::$result>) {
                    (self.error, self.result)
                }
            }
        )*
    };
}

/// The server API methods guests call, as metrics name them.
pub(crate) const METHODS: [&str; 13] = [
    "publish",
    "broadcast",
    "subscribe",
    "unsubscribe",
    "disconnect",
    "refresh",
    "presence",
    "presence_stats",
    "history",
    "history_remove",
    "channels",
    "info",
    "batch",
];

api_responses!(
    PublishResponse => PublishResult: "publish",
    BroadcastResponse => BroadcastResult: "broadcast",
    SubscribeResponse => SubscribeResult: "subscribe",
    UnsubscribeResponse => UnsubscribeResult: "unsubscribe",
    DisconnectResponse => DisconnectResult: "disconnect",
    RefreshResponse => RefreshResult: "refresh",
    PresenceResponse => PresenceResult: "presence",
    PresenceStatsResponse => PresenceStatsResult: "presence_stats",
    HistoryResponse => HistoryResult: "history",
    HistoryRemoveResponse => HistoryRemoveResult: "history_remove",
    ChannelsResponse => ChannelsResult: "channels",
    InfoResponse => InfoResult: "info",
);

impl ApiResponse for pb::BatchResponse {
    const METHOD: &'static str = "batch";
    type Result = pb::BatchResponse;
    fn split(self) -> (Option<pb::Error>, Option<pb::BatchResponse>) {
        (None, Some(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(namespaces: Option<Vec<&str>>) -> ApiClient {
        ApiClient::new(&ApiConfig {
            address: "http://127.0.0.1:1".into(),
            key: Some("secret".into()),
            timeout: Duration::from_millis(100),
            namespaces: namespaces.map(|list| list.into_iter().map(String::from).collect()),
        })
        .expect("a client")
    }

    #[tokio::test]
    async fn debug_output_never_shows_the_api_key() {
        let api = client(None);
        assert!(!format!("{api:?}").contains("secret"), "{api:?}");
    }

    #[tokio::test]
    async fn namespaces_restrict_channels() {
        let all = client(None);
        assert!(all.check_channel("anything:at-all").is_ok());
        let some = client(Some(vec!["chat", ""]));
        assert!(some.check_channel("chat:1").is_ok());
        assert!(some.check_channel("lobby").is_ok());
        assert!(matches!(
            some.check_channel("admin:x"),
            Err(ApiError::Denied(_))
        ));
    }

    /// Finding 7 of the hardening review: the scope check read `$chat:x`
    /// as namespace `$chat`; Centrifugo reads `chat`.
    #[tokio::test]
    async fn private_channels_are_in_their_namespace() {
        let chat = client(Some(vec!["chat"]));
        assert!(chat.check_channel("$chat:secret").is_ok());
        assert!(chat.check_channel("$admin:x").is_err());
        let custom = client(None).for_tenant(
            "t",
            Some(vec!["chat".into()]),
            Naming {
                private_prefix: "private-".into(),
                namespace_boundary: ".".into(),
                rpc_namespace_boundary: ".".into(),
            },
            Arc::new(Metrics::new()),
        );
        assert!(custom.check_channel("private-chat.room").is_ok());
        assert!(custom.check_channel("chat:room").is_err());
    }

    #[tokio::test]
    async fn an_unreachable_api_is_unavailable_not_a_crash() {
        let client = client(None);
        let deadline = Instant::now() + Duration::from_secs(1);
        let result = client
            .send(deadline, pb::InfoRequest {}, |mut c, r| async move {
                c.info(r).await
            })
            .await;
        assert!(
            matches!(result, Err(ApiError::Unavailable(_) | ApiError::Timeout)),
            "{result:?}"
        );
    }
}
