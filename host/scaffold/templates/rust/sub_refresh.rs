//! Answers Centrifugo's sub-refresh calls: extends every subscription by the
//! `extend_seconds` setting (one hour if unset).

use rotor_sdk::{SubRefresh, SubRefreshReply, SubRefreshRequest};

struct Extend;

impl SubRefresh for Extend {
    fn sub_refresh(_request: SubRefreshRequest) -> SubRefreshReply {
        let seconds = rotor_sdk::config::get("extend_seconds")
            .and_then(|value| value.parse::<i64>().ok())
            .unwrap_or(3600);
        SubRefreshReply::extend_until(rotor_sdk::unix_now() + seconds)
    }
}

rotor_sdk::export_sub_refresh!(Extend);
