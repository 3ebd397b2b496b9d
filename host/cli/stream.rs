//! `rotor call subscribe_stream --stream`: opens a subscription stream as
//! Centrifugo would (over gRPC, with no deadline) and prints what comes back
//! as JSON lines as it arrives: the subscribe response first, then one line
//! per publication. It stops when the stream ends, after `--for`, or on
//! Ctrl-C. On the bidirectional form each line of standard input goes to the
//! guest as a publication of the client.

use std::io::{BufRead as _, Write};
use std::time::Duration;

use anyhow::{Context as _, bail};
use rotor::proto::proxy as pb;
use rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::remote::{connect, with_metadata};

/// Client publications that may wait for the stream to take them.
const CLIENT_QUEUE: usize = 16;

/// How to open the stream and how long to follow it.
#[derive(Debug, Clone, Copy)]
pub struct StreamOptions {
    /// `SubscribeBidirectional`, with standard input as the client's
    /// publications, rather than `SubscribeUnidirectional`.
    pub bidirectional: bool,
    /// Stop after this long; `None` follows the stream until it ends or
    /// Ctrl-C.
    pub duration: Option<Duration>,
}

/// Why [`follow`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The stream ended: the guest closed it, or refused it at `open`.
    Ended,
    /// `--for` ran out.
    TimeUp,
    /// Ctrl-C.
    Interrupted,
}

/// Opens a stream on the proxy server at `address` with `request` and
/// `headers`, and writes each message to `out` as one JSON line until the
/// stream ends, the time runs out or Ctrl-C. A stream that ends with a gRPC
/// status is an error naming it.
pub async fn follow(
    address: &str,
    request: pb::SubscribeRequest,
    headers: Vec<(String, String)>,
    options: StreamOptions,
    out: &mut impl Write,
) -> anyhow::Result<Stopped> {
    let mut client = CentrifugoProxyClient::new(connect(address).await?);
    // Held until the end, so that the end of standard input does not end
    // the stream: only Ctrl-C, the time or the guest does.
    let mut _client_side = None;
    let opened = if options.bidirectional {
        let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
        tx.send(pb::StreamSubscribeRequest {
            subscribe_request: Some(request),
            publication: None,
        })
        .await
        .context("queueing the subscribe request")?;
        forward_stdin(tx.clone());
        _client_side = Some(tx);
        client
            .subscribe_bidirectional(with_metadata(ReceiverStream::new(rx), headers)?)
            .await
    } else {
        client
            .subscribe_unidirectional(with_metadata(request, headers)?)
            .await
    };
    let mut messages = opened
        .map_err(|status| anyhow::anyhow!("{}: {}", status.code(), status.message()))?
        .into_inner();

    let time_up = async {
        match options.duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(time_up);
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    loop {
        tokio::select! {
            message = messages.message() => match message {
                Ok(Some(message)) => write_line(out, &message)?,
                Ok(None) => return Ok(Stopped::Ended),
                Err(status) => bail!(
                    "the stream ended with {}: {}",
                    status.code(),
                    status.message()
                ),
            },
            () = &mut time_up => return Ok(Stopped::TimeUp),
            _ = &mut interrupt => return Ok(Stopped::Interrupted),
        }
    }
}

/// Writes the subscribe response or the publication of `message` as one
/// JSON line, flushed at once so that a pipe sees each as it arrives.
fn write_line(out: &mut impl Write, message: &pb::StreamSubscribeResponse) -> anyhow::Result<()> {
    let line = match (&message.subscribe_response, &message.publication) {
        (Some(response), _) => serde_json::to_string(response)?,
        (None, Some(publication)) => serde_json::to_string(publication)?,
        // Centrifugo skips a message that carries neither; so does this.
        (None, None) => return Ok(()),
    };
    writeln!(out, "{line}").context("writing to standard output")?;
    out.flush().context("writing to standard output")
}

/// Sends each line of standard input, on a thread of its own (reading it
/// blocks), as a publication of the client, until the input or the stream
/// ends.
fn forward_stdin(tx: mpsc::Sender<pb::StreamSubscribeRequest>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let message = pb::StreamSubscribeRequest {
                subscribe_request: None,
                publication: Some(pb::Publication {
                    data: line.into_bytes(),
                    tags: Default::default(),
                }),
            };
            if tx.blocking_send(message).is_err() {
                break;
            }
        }
    });
}
