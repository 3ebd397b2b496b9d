//! The gRPC face of Rotor: Centrifugo's `CentrifugoProxy` service. Thin on
//! purpose: it reads metadata and the deadline, and hands the message to
//! the answer path ([`Responder`]).

use std::time::{Duration, Instant};

use tokio_stream::StreamExt;
use tonic::codegen::BoxStream;
use tonic::metadata::KeyAndValueRef;
use tonic::{Request, Response, Status, Streaming};

use crate::call::Responder;
use crate::contract::convert::ProxyCall;
use crate::contract::proto::proxy as pb;
use crate::contract::proto::proxy::centrifugo_proxy_server::{
    CentrifugoProxy, CentrifugoProxyServer,
};
use crate::contract::wit::types::Headers;
use crate::policy::MAX_MESSAGE;
use crate::streams::{ClientData, StreamCall};
use crate::transport::listener::same_secret;

/// Metadata that belongs to the gRPC transport, not to the client: never
/// shown to guests.
const TRANSPORT_HEADERS: [&str; 4] = ["content-type", "te", "user-agent", "authority"];

/// The largest proxy message decoded or encoded (see [`MAX_MESSAGE`]).
const MAX_MESSAGE_BYTES: usize = MAX_MESSAGE as usize;

/// Centrifugo's proxy service, answering with a [`Responder`].
pub struct ProxyService {
    responder: Responder,
    /// The tenant this service's listener belongs to, if any.
    tenant: Option<String>,
}

impl ProxyService {
    /// The service of the main listener.
    pub fn new(responder: Responder) -> ProxyService {
        ProxyService {
            responder,
            tenant: None,
        }
    }

    /// The service of `tenant`'s own listener (`[tenancy] by = "listener"`).
    pub fn for_tenant(responder: Responder, tenant: String) -> ProxyService {
        ProxyService {
            responder,
            tenant: Some(tenant),
        }
    }

    /// The tonic server for this service. It decodes messages up to the
    /// largest tenant `max_request`: the length prefix of a larger one is
    /// refused before its body is read.
    pub fn into_server(self) -> CentrifugoProxyServer<ProxyService> {
        let decoding = usize::try_from(self.responder.max_request())
            .unwrap_or(MAX_MESSAGE_BYTES)
            .min(MAX_MESSAGE_BYTES);
        CentrifugoProxyServer::new(self)
            .max_decoding_message_size(decoding)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    async fn answer<C: ProxyCall>(
        &self,
        request: Request<C>,
    ) -> Result<Response<C::Response>, Status> {
        let (headers, deadline) = self.admit(request.metadata())?;
        let response = self
            .responder
            .answer_on(
                request.into_inner(),
                headers,
                deadline,
                self.tenant.as_deref(),
            )
            .await?;
        Ok(Response::new(response))
    }

    /// Checks the caller's credentials and reads what the call carries
    /// besides its message: the client's headers and the deadline.
    fn admit(
        &self,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<(Headers, Option<Instant>), Status> {
        // Rotor's listeners check the credentials on the request's headers,
        // before the body is read (`transport::Authenticated`); this check
        // holds for a service served some other way.
        let auth = self.responder.auth();
        if let Some(auth) = auth {
            let presented = metadata
                .get(auth.key.as_str())
                .map(tonic::metadata::MetadataValue::as_bytes);
            if !presented.is_some_and(|value| same_secret(value, auth.value.as_bytes())) {
                return Err(crate::transport::listener::unauthenticated(auth));
            }
        }
        let deadline = deadline(metadata);
        let mut headers = headers(metadata);
        if let Some(auth) = auth {
            // Guests never see the shared secret.
            headers.retain(|(key, _)| *key != auth.key);
        }
        Ok((headers, deadline))
    }

    /// Answers a batch of channel-state events with one call per channel
    /// namespace (see `channel_state`), one after another within the
    /// batch's deadline.
    async fn answer_channel_state(
        &self,
        request: Request<pb::NotifyChannelStateRequest>,
    ) -> Result<Response<pb::NotifyChannelStateResponse>, Status> {
        let (headers, deadline) = self.admit(request.metadata())?;
        let naming = self
            .responder
            .pipeline()
            .registry()
            .snapshot()
            .naming()
            .clone();
        let mut answers = Vec::new();
        for group in crate::contract::channel_state::split(request.into_inner(), &naming) {
            let answer = self
                .responder
                .answer_on(group, headers.clone(), deadline, self.tenant.as_deref())
                .await;
            let failed = !matches!(&answer, Ok(response) if response.error.is_none());
            answers.push(answer);
            if failed {
                break;
            }
        }
        crate::contract::channel_state::join(answers).map(Response::new)
    }
}

/// The client metadata Centrifugo forwarded, lower-cased, without gRPC's own.
fn headers(metadata: &tonic::metadata::MetadataMap) -> Headers {
    metadata
        .iter()
        .filter_map(|entry| match entry {
            KeyAndValueRef::Ascii(key, value) => {
                let key = key.as_str();
                let transport = key.starts_with("grpc-")
                    || key.starts_with(':')
                    || TRANSPORT_HEADERS.contains(&key);
                let value = value.to_str().ok()?;
                (!transport).then(|| (key.to_owned(), value.to_owned()))
            }
            KeyAndValueRef::Binary(..) => None,
        })
        .collect()
}

/// When the caller stops waiting, from the `grpc-timeout` header.
fn deadline(metadata: &tonic::metadata::MetadataMap) -> Option<Instant> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    parse_grpc_timeout(value).map(|timeout| Instant::now() + timeout)
}

/// Parses gRPC's timeout format: up to 8 digits and a unit (H, M, S, m, u, n).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

impl ProxyService {
    /// Opens a subscription stream (see `streams`): `client` carries the
    /// client's publications of the bidirectional form.
    async fn open_stream(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        request: pb::SubscribeRequest,
        client: Option<ClientData>,
    ) -> Result<Response<BoxStream<pb::StreamSubscribeResponse>>, Status> {
        let (headers, deadline) = self.admit(metadata)?;
        let call = StreamCall {
            request,
            headers,
            listener: self.tenant.as_deref(),
            deadline,
            client,
        };
        let messages = self.responder.streams().open(call).await?;
        Ok(Response::new(Box::pin(messages)))
    }
}

/// The data of the client's publications in a bidirectional stream, until
/// Centrifugo ends its side or the stream breaks. Messages without a
/// publication carry nothing for the guest and are skipped.
fn client_data(incoming: Streaming<pb::StreamSubscribeRequest>) -> ClientData {
    Box::pin(
        incoming
            .map_while(Result::ok)
            .filter_map(|message| message.publication.map(|publication| publication.data)),
    )
}

#[tonic::async_trait]
impl CentrifugoProxy for ProxyService {
    async fn connect(
        &self,
        request: Request<pb::ConnectRequest>,
    ) -> Result<Response<pb::ConnectResponse>, Status> {
        self.answer(request).await
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        self.answer(request).await
    }

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<pb::SubscribeResponse>, Status> {
        self.answer(request).await
    }

    async fn publish(
        &self,
        request: Request<pb::PublishRequest>,
    ) -> Result<Response<pb::PublishResponse>, Status> {
        self.answer(request).await
    }

    async fn rpc(
        &self,
        request: Request<pb::RpcRequest>,
    ) -> Result<Response<pb::RpcResponse>, Status> {
        self.answer(request).await
    }

    async fn sub_refresh(
        &self,
        request: Request<pb::SubRefreshRequest>,
    ) -> Result<Response<pb::SubRefreshResponse>, Status> {
        self.answer(request).await
    }

    async fn notify_cache_empty(
        &self,
        request: Request<pb::NotifyCacheEmptyRequest>,
    ) -> Result<Response<pb::NotifyCacheEmptyResponse>, Status> {
        self.answer(request).await
    }

    async fn notify_channel_state(
        &self,
        request: Request<pb::NotifyChannelStateRequest>,
    ) -> Result<Response<pb::NotifyChannelStateResponse>, Status> {
        self.answer_channel_state(request).await
    }

    async fn map_publish(
        &self,
        request: Request<pb::MapPublishRequest>,
    ) -> Result<Response<pb::MapPublishResponse>, Status> {
        self.answer(request).await
    }

    async fn map_remove(
        &self,
        request: Request<pb::MapRemoveRequest>,
    ) -> Result<Response<pb::MapRemoveResponse>, Status> {
        self.answer(request).await
    }

    async fn shared_poll_refresh(
        &self,
        request: Request<pb::SharedPollRefreshRequest>,
    ) -> Result<Response<pb::SharedPollRefreshResponse>, Status> {
        self.answer(request).await
    }

    async fn subscribe_unidirectional(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<BoxStream<pb::StreamSubscribeResponse>>, Status> {
        let (metadata, _, message) = request.into_parts();
        self.open_stream(&metadata, message, None).await
    }

    async fn subscribe_bidirectional(
        &self,
        request: Request<Streaming<pb::StreamSubscribeRequest>>,
    ) -> Result<Response<BoxStream<pb::StreamSubscribeResponse>>, Status> {
        let (metadata, _, mut incoming) = request.into_parts();
        // Centrifugo's first message carries the subscribe request.
        let first = incoming
            .message()
            .await?
            .and_then(|message| message.subscribe_request)
            .ok_or_else(|| {
                Status::invalid_argument(
                    "the first message of a bidirectional stream carries no subscribe_request",
                )
            })?;
        self.open_stream(&metadata, first, Some(client_data(incoming)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts() {
        assert_eq!(parse_grpc_timeout("1S"), Some(Duration::from_secs(1)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("5u"), Some(Duration::from_micros(5)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("1x"), None);
        assert_eq!(parse_grpc_timeout(""), None);
    }

    #[test]
    fn transport_headers_stay_out() {
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert("authorization", "Bearer t".parse().unwrap());
        metadata.insert("grpc-timeout", "1S".parse().unwrap());
        metadata.insert("user-agent", "grpc-go".parse().unwrap());
        metadata.insert("x-tenant", "a".parse().unwrap());
        let mut seen = headers(&metadata);
        seen.sort();
        assert_eq!(
            seen,
            vec![
                ("authorization".to_string(), "Bearer t".to_string()),
                ("x-tenant".to_string(), "a".to_string())
            ]
        );
    }
}
