//! Answers Centrifugo's refresh calls: extends every connection by the
//! `extend_seconds` setting (one hour if unset).

use rotor_sdk::{Refresh, RefreshReply, RefreshRequest};

struct Extend;

impl Refresh for Extend {
    fn refresh(_request: RefreshRequest) -> RefreshReply {
        let seconds = rotor_sdk::config::get("extend_seconds")
            .and_then(|value| value.parse::<i64>().ok())
            .unwrap_or(3600);
        RefreshReply::extend_until(rotor_sdk::unix_now() + seconds)
    }
}

rotor_sdk::export_refresh!(Extend);
