//! The proxy listeners' transport: connections (plain or TLS) accepted up
//! to a bound, HTTP/2 limits, and the `[auth]` check in front of the proxy
//! service.
//!
//! What one caller can make Rotor hold is bounded: `max_connections` per
//! listener, `max_streams` calls per connection, `max_header_bytes` of
//! metadata per call, and a body of at most the largest tenant
//! `max_request` (the length prefix of a larger message is refused before
//! its body is read), for at most `request_timeout`. With `[auth]`, a call
//! without Centrifugo's credentials is refused from its headers alone: its
//! body is never read or decoded, so a caller without the secret cannot
//! make Rotor buffer anything. Likewise a call of a tenant that has every
//! concurrency slot taken, when its headers or listener name the tenant
//! (every tenancy rule but namespaces): it gets its busy answer at once.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Bytes, Service, http};
use tonic::server::NamedService;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::config::{ProxyAuth, TransportLimits};
use crate::contract::convert::{ProxyCall, ReplyContext};
use crate::contract::kind::RequestKind;
use crate::contract::proto::proxy as pb;
use crate::error::{CallError, FailureReply, RefreshFailure};
use crate::routing::registry::{PluginRegistry, TenantRoutes};
use crate::transport::tls::TlsCerts;

/// How long a TLS handshake may take before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The gRPC server of one proxy listener, with `limits` applied.
pub(crate) fn server(limits: &TransportLimits) -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .max_concurrent_streams(limits.max_streams)
        .http2_max_header_list_size(limits.max_header_bytes)
        .timeout(limits.request_timeout)
}

/// Refuses a call without the `[auth]` credentials, or of a tenant at its
/// concurrency limit, before its body is read. Wraps the proxy service
/// only: health and reflection stay open to probes.
#[derive(Clone)]
pub(crate) struct Authenticated<S> {
    inner: S,
    auth: Option<Arc<ProxyAuth>>,
    admission: Option<Admission>,
}

impl<S> Authenticated<S> {
    /// `inner`, behind the credentials of `auth` (none: every call passes).
    pub(crate) fn new(inner: S, auth: Option<Arc<ProxyAuth>>) -> Authenticated<S> {
        Authenticated {
            inner,
            auth,
            admission: None,
        }
    }

    /// Also refuses, from its headers, a call of a tenant of `registry`
    /// whose concurrency slots are all taken; `listener` is the tenant of
    /// the listener, if it has one.
    pub(crate) fn with_admission(
        mut self,
        registry: Arc<PluginRegistry>,
        listener: Option<String>,
    ) -> Authenticated<S> {
        self.admission = Some(Admission {
            registry,
            listener: listener.map(Arc::from),
        });
        self
    }
}

/// What it takes to refuse a busy tenant's call from its headers.
#[derive(Clone)]
pub(crate) struct Admission {
    registry: Arc<PluginRegistry>,
    listener: Option<Arc<str>>,
}

impl Admission {
    /// The busy answer to `request`, if its headers name a tenant that has
    /// no concurrency slot free. A call let through here is still admitted
    /// (or refused) by the pipeline: this only spares the body of a call
    /// that would be refused anyway.
    fn refuse(&self, request: &http::Request<Body>) -> Option<http::Response<Body>> {
        let kind = kind_of_path(request.uri().path())?;
        let routes = self.registry.snapshot();
        let headers = request.headers();
        let tenant = routes.tenant_early(
            |key| headers.get(key).and_then(|value| value.to_str().ok()),
            self.listener.as_deref(),
        )?;
        if !tenant.saturated() {
            return None;
        }
        tenant.calls().count(kind, "busy", 0.0);
        Some(busy(kind, tenant))
    }
}

/// The request kind of a proxy method's path.
fn kind_of_path(path: &str) -> Option<RequestKind> {
    let method = path.strip_prefix("/centrifugal.centrifugo.proxy.CentrifugoProxy/")?;
    Some(match method {
        "Connect" => RequestKind::Connect,
        "Refresh" => RequestKind::Refresh,
        "Subscribe" => RequestKind::Subscribe,
        "Publish" => RequestKind::Publish,
        "RPC" => RequestKind::Rpc,
        "SubRefresh" => RequestKind::SubRefresh,
        _ => return None,
    })
}

/// What a call of `kind` is answered when `tenant` is busy: the same as
/// the pipeline answers (see [`CallError::reply`]), as a whole response.
fn busy(kind: RequestKind, tenant: &TenantRoutes) -> http::Response<Body> {
    match kind {
        RequestKind::Connect => busy_as::<pb::ConnectRequest>(tenant),
        RequestKind::Refresh => busy_as::<pb::RefreshRequest>(tenant),
        RequestKind::Subscribe => busy_as::<pb::SubscribeRequest>(tenant),
        RequestKind::Publish => busy_as::<pb::PublishRequest>(tenant),
        RequestKind::Rpc => busy_as::<pb::RpcRequest>(tenant),
        RequestKind::SubRefresh => busy_as::<pb::SubRefreshRequest>(tenant),
        RequestKind::MapPublish => busy_as::<pb::MapPublishRequest>(tenant),
        RequestKind::MapRemove => busy_as::<pb::MapRemoveRequest>(tenant),
        RequestKind::SharedPollRefresh => busy_as::<pb::SharedPollRefreshRequest>(tenant),
        RequestKind::NotifyCacheEmpty => busy_as::<pb::NotifyCacheEmptyRequest>(tenant),
        RequestKind::NotifyChannelState => busy_as::<pb::NotifyChannelStateRequest>(tenant),
        // Streams are admitted by their own cap, past their headers.
        RequestKind::SubscribeStream => {
            tonic::Status::resource_exhausted(CallError::Busy.to_string()).into_http()
        }
    }
}

fn busy_as<C: ProxyCall>(tenant: &TenantRoutes) -> http::Response<Body> {
    let expire = crate::pipeline::expired(C::KIND)
        .filter(|_| tenant.on_refresh_failure() == RefreshFailure::Expire);
    let response = match expire {
        Some(expired) => C::response(expired, &ReplyContext::default()).ok(),
        None => match CallError::Busy.reply(C::KIND) {
            FailureReply::Error { code, message } => C::error_response(pb::Error {
                code,
                message: message.into_owned(),
                temporary: true,
            }),
            FailureReply::Status(status) => return status.into_http(),
        },
    };
    match response {
        Some(response) => unary_ok(&response),
        None => tonic::Status::resource_exhausted(CallError::Busy.to_string()).into_http(),
    }
}

/// A whole gRPC answer carrying `message`, with status OK.
fn unary_ok(message: &impl prost::Message) -> http::Response<Body> {
    let encoded = message.encode_to_vec();
    let mut framed = Vec::with_capacity(encoded.len() + 5);
    framed.push(0);
    framed.extend_from_slice(
        &u32::try_from(encoded.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    framed.extend_from_slice(&encoded);
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    let mut response = http::Response::new(Body::new(Answer {
        message: Some(Bytes::from(framed)),
        trailers: Some(trailers),
    }));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    response
}

/// The body of an answer made without the service: one message, then the
/// trailers.
struct Answer {
    message: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
}

impl http_body::Body for Answer {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(message) = this.message.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(message))));
        }
        Poll::Ready(
            this.trailers
                .take()
                .map(|t| Ok(http_body::Frame::trailers(t))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.message.is_none() && self.trailers.is_none()
    }
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for Authenticated<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if let Some(auth) = &self.auth {
            let presented = request.headers().get(auth.key.as_str());
            if !presented.is_some_and(|value| same_secret(value.as_bytes(), auth.value.as_bytes()))
            {
                let status = unauthenticated(auth);
                // Dropping the request drops its body unread: HTTP/2 resets
                // the stream and frees its window.
                return Box::pin(std::future::ready(Ok(status.into_http())));
            }
        }
        if let Some(busy) = self
            .admission
            .as_ref()
            .and_then(|admission| admission.refuse(&request))
        {
            return Box::pin(std::future::ready(Ok(busy)));
        }
        Box::pin(self.inner.call(request))
    }
}

/// The status of a call without the `[auth]` credentials.
pub(crate) fn unauthenticated(auth: &ProxyAuth) -> tonic::Status {
    tonic::Status::unauthenticated(format!(
        "a proxy call must carry the `{}` credentials Centrifugo is configured with",
        auth.key
    ))
}

/// Compares two secrets in time that depends only on their lengths, so the
/// timing of a refusal does not tell how much of a guess was right. The one
/// comparison of secrets in Rotor: the proxy's `[auth]` and the admin token.
pub(crate) fn same_secret(presented: &[u8], expected: &[u8]) -> bool {
    presented.len() == expected.len()
        && presented
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

/// One accepted proxy connection: it holds its listener's connection slot
/// until it closes.
pub(crate) struct ProxyConnection {
    stream: Stream,
    _slot: OwnedSemaphorePermit,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// The connections of one listener, as the gRPC server takes them. Accepts
/// up to `limits.max_connections` at once (the rest wait in the kernel's
/// backlog), and completes TLS handshakes off the accept loop. Accepting
/// stops, and the listening socket closes, once the stream is dropped.
pub(crate) fn incoming(
    listener: TcpListener,
    tls: Option<Arc<TlsCerts>>,
    limits: &TransportLimits,
) -> ReceiverStream<io::Result<ProxyConnection>> {
    let slots = Arc::new(Semaphore::new(
        usize::try_from(limits.max_connections).unwrap_or(usize::MAX),
    ));
    let (accepted, connections) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let accepting = async {
                let slot = slots.clone().acquire_owned().await.ok()?;
                Some((listener.accept().await, slot))
            };
            let (result, slot) = tokio::select! {
                () = accepted.closed() => return,
                next = accepting => match next {
                    Some(next) => next,
                    None => return,
                },
            };
            let (tcp, peer) = match result {
                Ok(connection) => connection,
                Err(error) => {
                    // Out of file descriptors and the like: pause instead of
                    // spinning, then go on accepting.
                    tracing::warn!("cannot accept a proxy connection: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            match &tls {
                None => {
                    let connection = ProxyConnection {
                        stream: Stream::Plain(tcp),
                        _slot: slot,
                    };
                    if accepted.send(Ok(connection)).await.is_err() {
                        return;
                    }
                }
                Some(tls) => {
                    let acceptor = tls.acceptor();
                    let accepted = accepted.clone();
                    tokio::spawn(async move {
                        let handshake =
                            tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
                        match handshake {
                            Ok(Ok(stream)) => {
                                let connection = ProxyConnection {
                                    stream: Stream::Tls(Box::new(stream)),
                                    _slot: slot,
                                };
                                let _ = accepted.send(Ok(connection)).await;
                            }
                            Ok(Err(error)) => {
                                tracing::warn!(%peer, "TLS handshake failed: {error}");
                            }
                            Err(_) => tracing::warn!(%peer, "TLS handshake timed out"),
                        }
                    });
                }
            }
        }
    });
    ReceiverStream::new(connections)
}

impl Connected for ProxyConnection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        match &self.stream {
            Stream::Plain(tcp) => tcp.connect_info(),
            Stream::Tls(tls) => tls.get_ref().0.connect_info(),
        }
    }
}

impl AsyncRead for ProxyConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ProxyConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(tcp) => tcp.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cret", b"s3creT"));
        assert!(!same_secret(b"s3cret", b"s3cret!"));
        assert!(!same_secret(b"", b"s"));
    }
}
