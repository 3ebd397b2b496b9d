//! The `centrifugo-api` import: guests call Centrifugo's server API through
//! the host's client, within their channel namespaces, a per-call budget of
//! calls, and the time left of the proxy call.

use crate::api::ApiClient;
use crate::proto::api as pb;
use crate::sandbox::CallState;
use crate::wit::centrifugo_api::{
    ApiError, ClientInfo, HistoryPage, HistoryQuery, Host, Node, PresenceCounts, Publication,
    PublishOptions, StreamPosition,
};

/// Server API calls one guest call may make: bounds the work a guest can
/// cause outside its sandbox.
pub const API_CALLS_PER_CALL: u32 = 16;

impl CallState {
    /// The API client, after spending one call of the budget.
    fn api(&mut self) -> Result<ApiClient, ApiError> {
        let client = self.guest.services.api.clone().ok_or_else(|| {
            ApiError::Unavailable("Centrifugo's server API is not configured".into())
        })?;
        if self.api_budget == 0 {
            return Err(ApiError::Denied(format!(
                "at most {API_CALLS_PER_CALL} API calls per proxy call"
            )));
        }
        self.api_budget -= 1;
        Ok(client)
    }

    /// The API client for a call that touches `channel`.
    fn api_for(&mut self, channel: &str) -> Result<ApiClient, ApiError> {
        let client = self.api()?;
        client.check_channel(channel)?;
        Ok(client)
    }
}

fn position(result: pb::PublishResult) -> StreamPosition {
    StreamPosition {
        offset: result.offset,
        epoch: result.epoch,
    }
}

fn client_info(info: pb::ClientInfo) -> ClientInfo {
    ClientInfo {
        user: info.user,
        client: info.client,
        conn_info: info.conn_info,
        chan_info: info.chan_info,
    }
}

fn sorted<V>(map: std::collections::HashMap<String, V>) -> Vec<(String, V)> {
    let mut pairs: Vec<_> = map.into_iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

impl Host for CallState {
    async fn publish(
        &mut self,
        channel: String,
        data: Vec<u8>,
        options: PublishOptions,
    ) -> Result<StreamPosition, ApiError> {
        let client = self.api_for(&channel)?;
        let message = pb::PublishRequest {
            channel,
            data,
            skip_history: options.skip_history,
            tags: options.tags.into_iter().collect(),
            idempotency_key: options.idempotency_key,
            delta: options.delta,
            ..Default::default()
        };
        let result = client
            .send(self.deadline(), message, |mut c, r| async move {
                c.publish(r).await
            })
            .await?;
        Ok(position(result))
    }

    async fn broadcast(
        &mut self,
        channels: Vec<String>,
        data: Vec<u8>,
        options: PublishOptions,
    ) -> Result<Vec<Result<StreamPosition, ApiError>>, ApiError> {
        let client = self.api()?;
        for channel in &channels {
            client.check_channel(channel)?;
        }
        let message = pb::BroadcastRequest {
            channels,
            data,
            skip_history: options.skip_history,
            tags: options.tags.into_iter().collect(),
            idempotency_key: options.idempotency_key,
            delta: options.delta,
            ..Default::default()
        };
        let result = client
            .send(self.deadline(), message, |mut c, r| async move {
                c.broadcast(r).await
            })
            .await?;
        Ok(result
            .responses
            .into_iter()
            .map(|response| match response.error {
                Some(error) if error.code != 0 => Err(ApiError::Centrifugo(
                    crate::wit::centrifugo_api::CentrifugoFailure {
                        code: error.code,
                        message: error.message,
                    },
                )),
                _ => Ok(position(response.result.unwrap_or_default())),
            })
            .collect())
    }

    async fn subscribe(
        &mut self,
        user: String,
        channel: String,
        client: String,
    ) -> Result<(), ApiError> {
        let api = self.api_for(&channel)?;
        let message = pb::SubscribeRequest {
            channel,
            user,
            client,
            ..Default::default()
        };
        api.send(self.deadline(), message, |mut c, r| async move {
            c.subscribe(r).await
        })
        .await?;
        Ok(())
    }

    async fn unsubscribe(
        &mut self,
        user: String,
        channel: String,
        client: String,
    ) -> Result<(), ApiError> {
        let api = self.api_for(&channel)?;
        let message = pb::UnsubscribeRequest {
            channel,
            user,
            client,
            ..Default::default()
        };
        api.send(self.deadline(), message, |mut c, r| async move {
            c.unsubscribe(r).await
        })
        .await?;
        Ok(())
    }

    async fn disconnect(
        &mut self,
        user: String,
        client: String,
        code: u32,
        reason: String,
    ) -> Result<(), ApiError> {
        if !(4000..=4999).contains(&code) {
            return Err(ApiError::Denied(format!(
                "disconnect code {code} is outside 4000–4999"
            )));
        }
        let api = self.api()?;
        let message = pb::DisconnectRequest {
            user,
            client,
            disconnect: Some(pb::Disconnect { code, reason }),
            ..Default::default()
        };
        api.send(self.deadline(), message, |mut c, r| async move {
            c.disconnect(r).await
        })
        .await?;
        Ok(())
    }

    async fn refresh(
        &mut self,
        user: String,
        client: String,
        expire_at: i64,
        expired: bool,
    ) -> Result<(), ApiError> {
        let api = self.api()?;
        let message = pb::RefreshRequest {
            user,
            client,
            expire_at,
            expired,
            ..Default::default()
        };
        api.send(self.deadline(), message, |mut c, r| async move {
            c.refresh(r).await
        })
        .await?;
        Ok(())
    }

    async fn presence(&mut self, channel: String) -> Result<Vec<ClientInfo>, ApiError> {
        let api = self.api_for(&channel)?;
        let result = api
            .send(
                self.deadline(),
                pb::PresenceRequest { channel },
                |mut c, r| async move { c.presence(r).await },
            )
            .await?;
        Ok(sorted(result.presence)
            .into_iter()
            .map(|(_, info)| client_info(info))
            .collect())
    }

    async fn presence_stats(&mut self, channel: String) -> Result<PresenceCounts, ApiError> {
        let api = self.api_for(&channel)?;
        let result = api
            .send(
                self.deadline(),
                pb::PresenceStatsRequest { channel },
                |mut c, r| async move { c.presence_stats(r).await },
            )
            .await?;
        Ok(PresenceCounts {
            num_clients: result.num_clients,
            num_users: result.num_users,
        })
    }

    async fn history(
        &mut self,
        channel: String,
        query: HistoryQuery,
    ) -> Result<HistoryPage, ApiError> {
        let api = self.api_for(&channel)?;
        let message = pb::HistoryRequest {
            channel,
            limit: query.limit,
            since: query.since.map(|since| pb::StreamPosition {
                offset: since.offset,
                epoch: since.epoch,
            }),
            reverse: query.reverse,
        };
        let result = api
            .send(self.deadline(), message, |mut c, r| async move {
                c.history(r).await
            })
            .await?;
        Ok(HistoryPage {
            publications: result
                .publications
                .into_iter()
                .map(|publication| Publication {
                    data: publication.data,
                    info: publication.info.map(client_info),
                    offset: publication.offset,
                    tags: sorted(publication.tags),
                })
                .collect(),
            epoch: result.epoch,
            offset: result.offset,
        })
    }

    async fn history_remove(&mut self, channel: String) -> Result<(), ApiError> {
        let api = self.api_for(&channel)?;
        api.send(
            self.deadline(),
            pb::HistoryRemoveRequest { channel },
            |mut c, r| async move { c.history_remove(r).await },
        )
        .await?;
        Ok(())
    }

    async fn channels(&mut self, pattern: String) -> Result<Vec<(String, u32)>, ApiError> {
        let api = self.api()?;
        let result = api
            .send(
                self.deadline(),
                pb::ChannelsRequest { pattern },
                |mut c, r| async move { c.channels(r).await },
            )
            .await?;
        let visible = sorted(result.channels)
            .into_iter()
            .filter(|(channel, _)| api.check_channel(channel).is_ok())
            .map(|(channel, info)| (channel, info.num_clients))
            .collect();
        Ok(visible)
    }

    async fn info(&mut self) -> Result<Vec<Node>, ApiError> {
        let api = self.api()?;
        let result = api
            .send(self.deadline(), pb::InfoRequest {}, |mut c, r| async move {
                c.info(r).await
            })
            .await?;
        Ok(result
            .nodes
            .into_iter()
            .map(|node| Node {
                uid: node.uid,
                name: node.name,
                version: node.version,
                num_clients: node.num_clients,
                num_users: node.num_users,
                num_channels: node.num_channels,
                num_subs: node.num_subs,
                uptime: node.uptime,
            })
            .collect())
    }
}
