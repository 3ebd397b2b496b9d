//! Centrifugo PRO sends channel-state events in batches that may span
//! channel namespaces. Rotor routes and assigns tenants by namespace, so the
//! transport splits a batch into one call per namespace: every handler and
//! tenant sees only the events of its own channels.

use crate::contract::kind::Naming;
use crate::contract::proto::proxy as pb;

/// The events of `request` grouped by channel namespace, each group in the
/// order the events came and the groups in the order their first event
/// came. Events of channels without a namespace form one group. An empty
/// batch stays one (empty) call, so it is routed and answered like any.
pub fn split(
    request: pb::NotifyChannelStateRequest,
    naming: &Naming,
) -> Vec<pb::NotifyChannelStateRequest> {
    let mut groups: Vec<(Option<String>, Vec<pb::ChannelEvent>)> = Vec::new();
    for event in request.events {
        let namespace = naming.channel_namespace(&event.channel).map(str::to_owned);
        match groups.iter_mut().find(|(key, _)| *key == namespace) {
            Some((_, events)) => events.push(event),
            None => groups.push((namespace, vec![event])),
        }
    }
    if groups.is_empty() {
        return vec![pb::NotifyChannelStateRequest::default()];
    }
    groups
        .into_iter()
        .map(|(_, events)| pb::NotifyChannelStateRequest { events })
        .collect()
}

/// One answer for a split batch: the first group's error, if any group
/// failed; else the result. Centrifugo cannot tell which events failed, so
/// any failure fails the batch.
pub fn join(
    answers: Vec<Result<pb::NotifyChannelStateResponse, tonic::Status>>,
) -> Result<pb::NotifyChannelStateResponse, tonic::Status> {
    for answer in answers {
        let response = answer?;
        if response.error.is_some() {
            return Ok(response);
        }
    }
    Ok(pb::NotifyChannelStateResponse {
        result: Some(pb::NotifyChannelStateResult {}),
        error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(channel: &str) -> pb::ChannelEvent {
        pb::ChannelEvent {
            time_ms: 1,
            channel: channel.into(),
            r#type: "occupied".into(),
        }
    }

    #[test]
    fn batches_split_by_namespace_in_order() {
        let request = pb::NotifyChannelStateRequest {
            events: vec![
                event("chat:a"),
                event("news"),
                event("$chat:b"),
                event("games:x"),
                event("lobby"),
            ],
        };
        let groups = split(request, &Naming::default());
        let channels: Vec<Vec<&str>> = groups
            .iter()
            .map(|group| group.events.iter().map(|e| e.channel.as_str()).collect())
            .collect();
        assert_eq!(
            channels,
            vec![
                vec!["chat:a", "$chat:b"],
                vec!["news", "lobby"],
                vec!["games:x"]
            ]
        );
    }

    #[test]
    fn an_empty_batch_is_one_call() {
        let groups = split(pb::NotifyChannelStateRequest::default(), &Naming::default());
        assert_eq!(groups, vec![pb::NotifyChannelStateRequest::default()]);
        assert!(join(Vec::new()).unwrap().result.is_some());
    }

    #[test]
    fn any_failure_fails_the_batch() {
        let ok = Ok(pb::NotifyChannelStateResponse {
            result: Some(pb::NotifyChannelStateResult {}),
            error: None,
        });
        let refused = Ok(pb::NotifyChannelStateResponse {
            result: None,
            error: Some(pb::Error {
                code: 100,
                message: "no".into(),
                temporary: true,
            }),
        });
        assert!(join(vec![ok.clone(), refused]).unwrap().error.is_some());
        assert!(join(vec![ok.clone(), Err(tonic::Status::internal("x"))]).is_err());
        assert!(join(vec![ok]).unwrap().error.is_none());
    }
}
