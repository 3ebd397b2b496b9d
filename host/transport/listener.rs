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
//! make Rotor buffer anything.

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
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::config::{ProxyAuth, TransportLimits};
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

/// Refuses a call without the `[auth]` credentials before its body is read.
/// Wraps the proxy service only: health and reflection stay open to probes.
#[derive(Clone)]
pub(crate) struct Authenticated<S> {
    inner: S,
    auth: Option<Arc<ProxyAuth>>,
}

impl<S> Authenticated<S> {
    /// `inner`, behind the credentials of `auth` (none: every call passes).
    pub(crate) fn new(inner: S, auth: Option<Arc<ProxyAuth>>) -> Authenticated<S> {
        Authenticated { inner, auth }
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
