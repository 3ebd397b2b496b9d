//! The `config` import: a plugin reads its own settings from the host's
//! configuration file, and nothing else.

use crate::contract::wit::config::Host;
use crate::runtime::store::CallState;

impl Host for CallState {
    fn get(&mut self, key: String) -> Option<String> {
        self.guest.settings.get(&key).cloned()
    }
}
