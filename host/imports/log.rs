//! The `log` import: guest log lines go to the host's log, tagged with the
//! tenant and plugin, cut to a length, escaped so that a guest cannot forge
//! lines (see [`crate::runtime::guest_log`]), and bounded in number per call and in
//! rate per tenant.

use std::time::Instant;

use crate::contract::wit::log::{Host, Level};
use crate::runtime::guest_log::{Admit, escape_control};
use crate::runtime::store::{CallState, LOG_LINE_MAX};

impl Host for CallState {
    fn write(&mut self, level: Level, message: String) {
        if self.log_budget == 0 {
            return;
        }
        self.log_budget -= 1;
        let guest = &self.guest;
        match guest.log_rate.admit(Instant::now()) {
            Admit::Line => {}
            Admit::Drop => return,
            Admit::DropAndReport(dropped) => {
                tracing::warn!(
                    tenant = %guest.tenant,
                    "the tenant's guests log faster than its log_rate of {} lines a second; {dropped} lines dropped",
                    guest.log_rate.per_second()
                );
                return;
            }
        }
        let message = escape_control(truncate(&message, LOG_LINE_MAX));
        match level {
            Level::Trace => {
                tracing::trace!(tenant = %guest.tenant, plugin = %guest.plugin, "{message}")
            }
            Level::Debug => {
                tracing::debug!(tenant = %guest.tenant, plugin = %guest.plugin, "{message}")
            }
            Level::Info => {
                tracing::info!(tenant = %guest.tenant, plugin = %guest.plugin, "{message}")
            }
            Level::Warn => {
                tracing::warn!(tenant = %guest.tenant, plugin = %guest.plugin, "{message}")
            }
            Level::Error => {
                tracing::error!(tenant = %guest.tenant, plugin = %guest.plugin, "{message}")
            }
        }
        if self.log_budget == 0 {
            tracing::warn!(
                tenant = %guest.tenant,
                plugin = %guest.plugin,
                "log budget of this call used up; further lines are dropped"
            );
        }
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("hello", 10), "hello");
        assert_eq!(truncate("hello", 3), "hel");
        assert_eq!(truncate("héllo", 2), "h");
    }
}
