//! One open stream: a task that owns the stream's store and instance, waits
//! for the guest's timer, the client's data, the client leaving, idleness,
//! a reload of its plugin or shutdown, and runs one callback at a time.

use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio_stream::StreamExt;
use wasmtime::Store;

use crate::config::{Limits, MAX_TIMEOUT};
use crate::contract::kind::RequestKind;
use crate::contract::proto::proxy as pb;
use crate::contract::wit::stream_handler;
use crate::contract::wit::types::Request;
use crate::error::GuestFault;
use crate::pipeline::classify;
use crate::routing::registry::{PluginRegistry, Target};
use crate::runtime::guest_log::escape_control;
use crate::runtime::outbox::{Publication, Requests};
use crate::runtime::store::{self, CallState, by_deadline};
use crate::streams::{ClientData, Outgoing};
use crate::telemetry::{Metrics, OpenStream};

/// An accepted stream, run by [`StreamTask::run`] until it ends.
pub(super) struct StreamTask {
    pub(super) tenant: String,
    pub(super) listener: Option<String>,
    /// The opening request, to route again after a reload.
    pub(super) probe: Request,
    pub(super) target: Target,
    pub(super) limits: Limits,
    pub(super) store: Store<CallState>,
    pub(super) handler: stream_handler::Guest,
    pub(super) tx: mpsc::Sender<Outgoing>,
    pub(super) client: Option<ClientData>,
    pub(super) registry: std::sync::Arc<PluginRegistry>,
    pub(super) metrics: std::sync::Arc<Metrics>,
    pub(super) shutdown: watch::Receiver<bool>,
    /// Counts the stream in `rotor_streams_open` until it ends.
    pub(super) _open: OpenStream,
    /// The tenant's stream slot, held for the stream's life.
    pub(super) _slot: OwnedSemaphorePermit,
}

/// Why a stream ended.
#[derive(Debug)]
enum End {
    /// The guest called `close`.
    ClosedByGuest,
    /// Centrifugo cancelled the stream: the client unsubscribed or left.
    ClientLeft,
    /// A callback failed, or the guest published what it may not.
    Fault(GuestFault),
    /// Nothing happened for `limits.stream_idle`.
    Idle,
    /// The stream's plugin changed (or lost its route) in a reload.
    Reload,
    /// Rotor is shutting down.
    Shutdown,
}

impl End {
    /// Its `rotor_stream_events_total` event.
    fn event(&self) -> &'static str {
        match self {
            End::ClosedByGuest => "closed_by_guest",
            End::ClientLeft => "client_left",
            End::Fault(_) => "fault",
            End::Idle => "idle",
            End::Reload => "reload",
            End::Shutdown => "shutdown",
        }
    }
}

/// What the stream's task woke up for.
enum Event {
    End(End),
    /// New routes went live (`false`: no more will).
    Swapped(bool),
    Call(Callback),
}

/// What wakes the guest.
enum Callback {
    Wake,
    ClientData(Vec<u8>),
}

impl StreamTask {
    /// Runs the stream to its end, then ends the rpc as the end says: OK
    /// (Centrifugo unsubscribes the client for good), a status (the client
    /// subscribes again), or nothing when Centrifugo already left.
    pub(super) async fn run(mut self) {
        let end = self.serve().await;
        let plugin = self.target.guest.plugin.clone();
        let status = match &end {
            End::ClosedByGuest | End::Idle | End::ClientLeft => None,
            End::Fault(fault) => {
                let text = fault.to_string();
                let text = escape_control(&text);
                tracing::warn!(fault = fault.kind(), "stream handler failed: {text}");
                self.metrics.fault(&plugin, fault.kind());
                Some(tonic::Status::internal(format!(
                    "plugin {plugin} failed ({}); Rotor's log has the details",
                    fault.kind()
                )))
            }
            End::Reload => Some(tonic::Status::unavailable(format!(
                "plugin {plugin} was reloaded; subscribe again"
            ))),
            End::Shutdown => Some(tonic::Status::unavailable("Rotor is shutting down")),
        };
        tracing::debug!(end = end.event(), "stream ended");
        if let Some(status) = status {
            // Centrifugo may be gone already; then there is no one to tell.
            let _ = self.tx.send(Err(status)).await;
        }
        self.metrics.stream_event(&self.tenant, end.event(), 1);
        // The instance, the slot and the gauge go with `self`.
    }

    async fn serve(&mut self) -> End {
        let now = Instant::now();
        let mut idle_at = now + self.limits.stream_idle;
        let mut wake_at = None;
        // What the guest asked for in `open` goes out after the first message.
        let opened = self.requests();
        if let Some(end) = self.apply(opened, &mut wake_at, &mut idle_at).await {
            return end;
        }
        let mut swaps = self.registry.swaps();
        loop {
            let event = tokio::select! {
                biased;
                _ = self.shutdown.wait_for(|stop| *stop) => Event::End(End::Shutdown),
                () = self.tx.closed() => Event::End(End::ClientLeft),
                changed = swaps.changed() => Event::Swapped(changed.is_ok()),
                data = next_data(&mut self.client) => match data {
                    Some(data) => Event::Call(Callback::ClientData(data)),
                    None => Event::End(End::ClientLeft),
                },
                () = sleep_until(wake_at) => Event::Call(Callback::Wake),
                () = tokio::time::sleep_until(idle_at.into()) => Event::End(End::Idle),
            };
            let callback = match event {
                Event::End(end) => return end,
                Event::Swapped(live) => {
                    // A closed registry (`!live`) never swaps again.
                    if live && self.plugin_changed() {
                        return End::Reload;
                    }
                    continue;
                }
                Event::Call(callback) => callback,
            };
            if matches!(callback, Callback::Wake) {
                wake_at = None;
            }
            idle_at = Instant::now() + self.limits.stream_idle;
            let requests = match self.call(callback).await {
                Ok(requests) => requests,
                Err(fault) => return End::Fault(fault),
            };
            if let Some(end) = self.apply(requests, &mut wake_at, &mut idle_at).await {
                return end;
            }
        }
    }

    /// Runs one callback on the guest, with a fresh CPU deadline and
    /// budgets; what the guest asked for, or its fault.
    async fn call(&mut self, callback: Callback) -> Result<Requests, GuestFault> {
        let deadline = Instant::now() + self.limits.timeout.min(MAX_TIMEOUT);
        let guest = self.target.guest.clone();
        self.store.data_mut().begin_call(guest.clone());
        store::refill(&mut self.store, &self.limits, deadline);
        let _active = guest.cpu.enter();
        let result = match callback {
            Callback::Wake => {
                by_deadline(deadline, self.handler.call_on_wake(&mut self.store)).await
            }
            Callback::ClientData(data) => {
                by_deadline(
                    deadline,
                    self.handler.call_on_client_data(&mut self.store, &data),
                )
                .await
            }
        };
        match result {
            Ok(()) => Ok(self.requests()),
            Err(error) => Err(classify(error, &self.store)),
        }
    }

    /// What the guest asked for in its last callback.
    fn requests(&mut self) -> Requests {
        self.store
            .data_mut()
            .stream
            .as_mut()
            .map(crate::runtime::outbox::StreamOutbox::take)
            .unwrap_or_default()
    }

    /// Sends a callback's publications and sets its timer; the end of the
    /// stream if the guest closed it or Centrifugo left meanwhile.
    async fn apply(
        &mut self,
        requests: Requests,
        wake_at: &mut Option<Instant>,
        idle_at: &mut Instant,
    ) -> Option<End> {
        let published = u64::try_from(requests.publications.len()).unwrap_or(u64::MAX);
        for publication in requests.publications {
            if self
                .tx
                .send(Ok(publication_message(publication)))
                .await
                .is_err()
            {
                return Some(End::ClientLeft);
            }
        }
        if published > 0 {
            self.metrics
                .stream_event(&self.tenant, "published", published);
            *idle_at = Instant::now() + self.limits.stream_idle;
        }
        if let Some(after) = requests.wake {
            *wake_at = Some(Instant::now() + after);
        }
        requests.close.then_some(End::ClosedByGuest)
    }

    /// Whether the live routes send this stream's channel to another
    /// plugin version than the one it runs (or nowhere).
    fn plugin_changed(&self) -> bool {
        let routes = self.registry.snapshot();
        let now = routes
            .tenant_of(&self.probe, self.listener.as_deref())
            .ok()
            .filter(|tenant| tenant.name() == self.tenant)
            .and_then(|tenant| {
                tenant
                    .route_as(RequestKind::SubscribeStream, &self.probe)
                    .ok()
            });
        match now {
            Some(target) => {
                target.guest.plugin != self.target.guest.plugin
                    || target.plugin.sha256() != self.target.plugin.sha256()
            }
            None => true,
        }
    }
}

/// The next publication of the client, or never for a unidirectional stream.
async fn next_data(client: &mut Option<ClientData>) -> Option<Vec<u8>> {
    match client {
        Some(client) => client.next().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`, or forever without a timer.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn publication_message(publication: Publication) -> pb::StreamSubscribeResponse {
    pb::StreamSubscribeResponse {
        subscribe_response: None,
        publication: Some(pb::Publication {
            data: publication.data,
            tags: publication.tags.into_iter().collect(),
        }),
    }
}
