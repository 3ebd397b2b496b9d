//! Tests of the conversion: payload encodings, the checks on guest
//! replies, and the bounds on what the host builds from them.

use super::client_calls::filter;
use super::reply_size::channel_reply_bytes;
use super::*;

fn node(op: &str, children: Vec<u32>) -> wit::FilterNode {
    wit::FilterNode {
        op: op.into(),
        key: String::new(),
        cmp: String::new(),
        val: String::new(),
        vals: Vec::new(),
        children,
    }
}

#[test]
fn filters_rebuild_and_reject_cycles() {
    let tree = filter(Some(vec![
        node("and", vec![1, 2]),
        node("", vec![]),
        node("", vec![]),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(tree.nodes.len(), 2);
    assert!(filter(Some(vec![node("and", vec![0])])).is_err());
    assert!(filter(Some(vec![node("and", vec![5])])).is_err());
    let deep: Vec<_> = (0..40)
        .map(|i| node("not", vec![i + 1]))
        .chain([node("", vec![])])
        .collect();
    assert!(filter(Some(deep)).is_err());
}

/// Finding 1 of the hardening review: nodes that share children made
/// the host expand a small reply into an exponential tree. Eighteen
/// levels of two edges to one child are a few hundred bytes that stood
/// for 2^18 leaves.
#[test]
fn reply_conversion_is_bounded_by_the_reply() {
    let levels = 18u32;
    let shared: Vec<_> = (0..levels)
        .map(|i| node("and", vec![i + 1, i + 1]))
        .chain([node("", vec![])])
        .collect();
    let started = std::time::Instant::now();
    let error = filter(Some(shared)).expect_err("shared children are refused");
    assert!(
        error.to_string().contains("more than one parent"),
        "{error}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_millis(100),
        "refused in {:?}: it was expanded first",
        started.elapsed()
    );
    // A node outside the tree is refused too: nodes out = nodes in.
    let orphan = vec![node("and", vec![1]), node("", vec![]), node("", vec![])];
    assert!(filter(Some(orphan)).is_err());
    // A proper tree keeps every node, in order.
    let tree = filter(Some(vec![
        node("and", vec![1, 3]),
        node("or", vec![2]),
        node("a", vec![]),
        node("b", vec![]),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(tree.nodes.len(), 2);
    assert_eq!(tree.nodes[0].op, "or");
    assert_eq!(tree.nodes[0].nodes[0].op, "a");
    assert_eq!(tree.nodes[1].op, "b");
}

#[test]
fn payload_prefers_bytes_then_base64() {
    assert_eq!(payload(b"x".to_vec(), "eQ==", "data").unwrap(), b"x");
    assert_eq!(payload(Vec::new(), "eQ==", "data").unwrap(), b"y");
    assert!(payload(Vec::new(), "not base64!", "data").is_err());
}

#[test]
fn binary_replies_use_base64_fields() {
    assert_eq!(
        encode(b"hi".to_vec(), true),
        (Vec::new(), "aGk=".to_string())
    );
    assert_eq!(
        encode(b"hi".to_vec(), false),
        (b"hi".to_vec(), String::new())
    );
    assert_eq!(encode(Vec::new(), true), (Vec::new(), String::new()));
}

#[test]
fn codes_outside_the_proxy_ranges_are_refused() {
    let e = |code| wit::CentrifugoError {
        code,
        message: String::new(),
        temporary: false,
    };
    assert!(error(e(0)).is_err());
    assert!(error(e(103)).is_ok());
    assert!(error(e(4000)).is_err());
    let d = |code, reason: &str| wit::Disconnect {
        code,
        reason: reason.into(),
    };
    assert!(disconnect(d(3000, "x")).is_err());
    assert!(disconnect(d(4500, "x")).is_ok());
    assert!(disconnect(d(4500, &"x".repeat(200))).is_err());
}

#[test]
fn publish_without_changes_sends_no_result() {
    let accept = |data| {
        wit::Reply::Publish(wit::PublishReply::Accept(wit::PublishResult {
            data,
            skip_history: false,
            tags: Vec::new(),
            idempotency_key: String::new(),
            delta: false,
            version: 0,
            version_epoch: String::new(),
        }))
    };
    let context = ReplyContext {
        binary: false,
        original_data: b"{}".to_vec(),
    };
    let response = pb::PublishRequest::response(accept(None), &context).unwrap();
    assert!(response.result.is_none());
    let response = pb::PublishRequest::response(accept(Some(b"[]".to_vec())), &context).unwrap();
    assert_eq!(response.result.unwrap().data, b"[]");
}

#[test]
fn reply_bytes_count_what_the_guest_sent() {
    let reply = wit::Reply::Rpc(wit::RpcReply::Accept(wit::RpcResult {
        data: vec![0; 1000],
    }));
    assert_eq!(reply_bytes(&reply), 1000);
    let filter_nodes = vec![node("and", vec![1]), node("", vec![])];
    let reply = wit::Reply::Subscribe(wit::SubscribeReply::Accept(wit::SubscribeResult {
        expire_at: 0,
        info: b"ii".to_vec(),
        data: b"ddd".to_vec(),
        overrides: None,
        allow: vec!["pub".into()],
        server_tags_filter: Some(filter_nodes),
    }));
    // 2 + 3 + 3, then the filter: "and" and one child index.
    assert_eq!(reply_bytes(&reply), 2 + 3 + 3 + 3 + 1);
    let context = ReplyContext::default();
    let encoded = prost::Message::encoded_len(
        &pb::SubscribeRequest::response(reply.clone(), &context).unwrap(),
    );
    assert!(reply_bytes(&reply) <= encoded as u64);
}

#[test]
fn reply_bytes_count_shared_poll_items() {
    let reply = wit::Reply::SharedPollRefresh(wit::SharedPollRefreshReply::Accept(
        wit::SharedPollRefreshResult {
            items: vec![wit::SharedPollEntry {
                key: "k".into(),
                data: vec![0; 10],
                version: 3,
                removed: false,
                prev_data: vec![0; 5],
            }],
            epoch: "ep".into(),
        },
    ));
    assert_eq!(channel_reply_bytes(&reply), Some(1 + 10 + 5 + 2));
    let other = wit::Reply::Refresh(wit::RefreshReply::Expire);
    assert_eq!(channel_reply_bytes(&other), None);
}
