//! The `centrifugo-api` import: guests call Centrifugo's server API through
//! the host's client, within their channel namespaces, a per-call budget of
//! API work (the tenant's `api_calls`: one per call, and one per command of
//! a `batch` or channel of a `broadcast`), and the time left of the proxy
//! call.

use crate::backends::centrifugo_client::ApiClient;
use crate::contract::convert::DISCONNECT_CODES;
use crate::contract::proto::api as pb;
use crate::contract::wit::centrifugo_api::{
    ApiError, CentrifugoFailure, ClientInfo, Command, HistoryPage, HistoryQuery, Host, Node,
    PresenceCounts, Publication, PublishOptions, StreamPosition,
};
use crate::runtime::store::CallState;

impl CallState {
    /// The API client, after spending one unit of the budget.
    fn api(&mut self) -> Result<ApiClient, ApiError> {
        self.api_spending(1)
    }

    /// The API client, after spending `units` of the budget (at least one):
    /// the work one call causes in Centrifugo. Spends nothing when the
    /// budget cannot cover it.
    fn api_spending(&mut self, units: usize) -> Result<ApiClient, ApiError> {
        let client = self.guest.services.api.clone().ok_or_else(|| {
            ApiError::Unavailable("Centrifugo's server API is not configured".into())
        })?;
        let units = u32::try_from(units.max(1)).unwrap_or(u32::MAX);
        let Some(left) = self.api_budget.checked_sub(units) else {
            return Err(ApiError::Denied(format!(
                "this call needs {units} API operations and {} are left (the tenant's \
                 `api_calls` limit; a batch command or broadcast channel counts one)",
                self.api_budget
            )));
        };
        self.api_budget = left;
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

/// A batch command as Centrifugo's API takes it, after the same checks as
/// the single calls.
fn batch_command(api: &ApiClient, command: Command) -> Result<pb::Command, ApiError> {
    let mut message = pb::Command::default();
    match command {
        Command::Publish(publish) => {
            api.check_channel(&publish.channel)?;
            message.publish = Some(pb::PublishRequest {
                channel: publish.channel,
                data: publish.data,
                skip_history: publish.options.skip_history,
                tags: publish.options.tags.into_iter().collect(),
                idempotency_key: publish.options.idempotency_key,
                delta: publish.options.delta,
                ..Default::default()
            });
        }
        Command::Subscribe(member) => {
            api.check_channel(&member.channel)?;
            message.subscribe = Some(pb::SubscribeRequest {
                channel: member.channel,
                user: member.user,
                client: member.client,
                ..Default::default()
            });
        }
        Command::Unsubscribe(member) => {
            api.check_channel(&member.channel)?;
            message.unsubscribe = Some(pb::UnsubscribeRequest {
                channel: member.channel,
                user: member.user,
                client: member.client,
                ..Default::default()
            });
        }
        Command::Disconnect(disconnect) => {
            check_disconnect_code(disconnect.code)?;
            message.disconnect = Some(pb::DisconnectRequest {
                user: disconnect.user,
                client: disconnect.client,
                disconnect: Some(pb::Disconnect {
                    code: disconnect.code,
                    reason: disconnect.reason,
                }),
                ..Default::default()
            });
        }
        Command::HistoryRemove(channel) => {
            api.check_channel(&channel)?;
            message.history_remove = Some(pb::HistoryRemoveRequest { channel });
        }
    }
    Ok(message)
}

/// One result per command, from Centrifugo's per-command errors.
fn batch_results(
    replies: Vec<pb::Reply>,
    expected: usize,
) -> Result<Vec<Result<(), ApiError>>, ApiError> {
    if replies.len() != expected {
        return Err(ApiError::Unavailable(format!(
            "Centrifugo answered {} of {expected} batch commands",
            replies.len()
        )));
    }
    Ok(replies
        .into_iter()
        .map(|reply| match reply.error {
            Some(error) if error.code != 0 => Err(ApiError::Centrifugo(CentrifugoFailure {
                code: error.code,
                message: error.message,
            })),
            _ => Ok(()),
        })
        .collect())
}

fn check_disconnect_code(code: u32) -> Result<(), ApiError> {
    if DISCONNECT_CODES.contains(&code) {
        Ok(())
    } else {
        Err(ApiError::Denied(format!(
            "disconnect code {code} is outside {}–{}",
            DISCONNECT_CODES.start(),
            DISCONNECT_CODES.end()
        )))
    }
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
        let client = self.api_spending(channels.len())?;
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
                    crate::contract::wit::centrifugo_api::CentrifugoFailure {
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
        check_disconnect_code(code)?;
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

    async fn batch(
        &mut self,
        commands: Vec<Command>,
        parallel: bool,
    ) -> Result<Vec<Result<(), ApiError>>, ApiError> {
        let api = self.api_spending(commands.len())?;
        let expected = commands.len();
        let commands = commands
            .into_iter()
            .map(|command| batch_command(&api, command))
            .collect::<Result<Vec<_>, _>>()?;
        let message = pb::BatchRequest { commands, parallel };
        let replies = api
            .send(self.deadline(), message, |mut c, r| async move {
                c.batch(r).await
            })
            .await?;
        batch_results(replies.replies, expected)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::ApiConfig;
    use crate::contract::wit::centrifugo_api::{Membership, PublishCommand, PublishOptions};

    fn api() -> ApiClient {
        ApiClient::new(&ApiConfig {
            address: "http://127.0.0.1:1".into(),
            key: None,
            timeout: Duration::from_millis(100),
            namespaces: Some(vec!["event".into()]),
        })
        .expect("a client")
    }

    #[tokio::test]
    async fn batch_commands_are_checked_like_single_calls() {
        let api = api();
        let publish = batch_command(
            &api,
            Command::Publish(PublishCommand {
                channel: "event:1".into(),
                data: b"{}".to_vec(),
                options: PublishOptions {
                    skip_history: true,
                    tags: vec![("k".into(), "v".into())],
                    idempotency_key: String::new(),
                    delta: false,
                },
            }),
        )
        .expect("a granted channel");
        let sent = publish.publish.expect("a publish command");
        assert_eq!(
            (sent.channel.as_str(), sent.skip_history),
            ("event:1", true)
        );
        let member = |channel: &str| Membership {
            user: "42".into(),
            channel: channel.into(),
            client: String::new(),
        };
        assert!(batch_command(&api, Command::Subscribe(member("event:2"))).is_ok());
        assert!(matches!(
            batch_command(&api, Command::Unsubscribe(member("admin:1"))),
            Err(ApiError::Denied(_))
        ));
        assert!(matches!(
            batch_command(&api, Command::HistoryRemove("admin:1".into())),
            Err(ApiError::Denied(_))
        ));
    }

    #[test]
    fn batch_replies_become_one_result_per_command() {
        let ok = pb::Reply::default();
        let failed = pb::Reply {
            error: Some(pb::Error {
                code: 102,
                message: "unknown channel".into(),
            }),
            ..Default::default()
        };
        let results = batch_results(vec![ok, failed], 2).expect("two replies");
        assert!(results[0].is_ok());
        assert!(matches!(&results[1], Err(ApiError::Centrifugo(f)) if f.code == 102));
        assert!(batch_results(vec![pb::Reply::default()], 2).is_err());
    }
}
