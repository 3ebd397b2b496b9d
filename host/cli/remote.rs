//! `rotor call --to ADDRESS`: sends one request to a running Rotor as
//! Centrifugo would, over gRPC with Centrifugo's default deadline, and
//! returns the reply.

use std::time::Duration;

use anyhow::Context as _;
use rotor::proto::proxy as pb;
use rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient;
use tonic::transport::Channel;

/// The deadline of each call: Centrifugo's default proxy timeout.
const TIMEOUT: Duration = Duration::from_secs(1);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A proxy request type and the method of the proxy service that takes it.
pub trait ProxyMethod: rotor::ProxyCall {
    /// Calls the method of this request type.
    fn send(
        client: CentrifugoProxyClient<Channel>,
        request: tonic::Request<Self>,
    ) -> impl Future<Output = Result<tonic::Response<Self::Response>, tonic::Status>>;
}

macro_rules! proxy_methods {
    ($($request:ty => $method:ident),* $(,)?) => {$(
        impl ProxyMethod for $request {
            async fn send(
                mut client: CentrifugoProxyClient<Channel>,
                request: tonic::Request<Self>,
            ) -> Result<tonic::Response<Self::Response>, tonic::Status> {
                client.$method(request).await
            }
        }
    )*};
}

proxy_methods! {
    pb::ConnectRequest => connect,
    pb::RefreshRequest => refresh,
    pb::SubscribeRequest => subscribe,
    pb::PublishRequest => publish,
    pb::RpcRequest => rpc,
    pb::SubRefreshRequest => sub_refresh,
    pb::MapPublishRequest => map_publish,
    pb::MapRemoveRequest => map_remove,
    pb::SharedPollRefreshRequest => shared_poll_refresh,
    pb::NotifyCacheEmptyRequest => notify_cache_empty,
    pb::NotifyChannelStateRequest => notify_channel_state,
}

/// Sends `message`, with `headers` as gRPC metadata, to the proxy server at
/// `address` (`host:port`, or a URL) and returns its response, or the gRPC
/// status it failed with.
pub async fn call<C: ProxyMethod>(
    address: &str,
    message: C,
    headers: Vec<(String, String)>,
) -> anyhow::Result<Result<C::Response, tonic::Status>> {
    let channel = connect(address).await?;
    let mut request = with_metadata(message, headers)?;
    request.set_timeout(TIMEOUT);
    Ok(C::send(CentrifugoProxyClient::new(channel), request)
        .await
        .map(tonic::Response::into_inner))
}

/// A channel to the proxy server at `address` (`host:port`, or a URL).
pub async fn connect(address: &str) -> anyhow::Result<Channel> {
    let url = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    tonic::transport::Endpoint::from_shared(url)
        .with_context(|| format!("`{address}` is not an address"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .connect()
        .await
        .with_context(|| format!("cannot connect to {address}"))
}

/// A request of `message` with `headers` as gRPC metadata, as Centrifugo
/// forwards a client's headers.
pub fn with_metadata<T>(
    message: T,
    headers: Vec<(String, String)>,
) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    for (name, value) in headers {
        let key = tonic::metadata::MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
            .with_context(|| format!("`{name}` cannot be a gRPC metadata name"))?;
        let value = value
            .parse()
            .with_context(|| format!("the value of `{name}` cannot be gRPC metadata"))?;
        request.metadata_mut().insert(key, value);
    }
    Ok(request)
}
