//! Rotor's policy in one place: the names it reserves, the grants a
//! tenant's guests may hold, how long warm instances live, and the limits
//! that are not configurable. A leaf: it imports nothing from the crate, so
//! every layer can name the same definition.

use std::fmt;
use std::time::Duration;

/// The tenant of a configuration without tenants (a reserved name).
pub const DEFAULT_TENANT: &str = "default";

/// The metadata key that names the tenant when `[tenancy] by = "metadata"`
/// does not name another.
pub const DEFAULT_TENANT_KEY: &str = "x-rotor-tenant";

/// The host imports a tenant's guests may use. Clocks and randomness (WASI)
/// are always available; files, sockets and the environment never are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grants {
    /// `log`: write to Rotor's log.
    pub log: bool,
    /// `config`: read the plugin's settings.
    pub config: bool,
    /// `kv`: the tenant's keys in the shared store.
    pub kv: bool,
    /// `centrifugo-api`: Centrifugo's server API.
    pub centrifugo_api: bool,
}

impl Grants {
    /// Every host import: what the tenant of a single-tenant config gets.
    pub const ALL: Grants = Grants {
        log: true,
        config: true,
        kv: true,
        centrifugo_api: true,
    };

    /// What a declared tenant gets unless its `grants` say otherwise: no
    /// server API, since that acts on Centrifugo itself.
    pub const DEFAULT: Grants = Grants {
        log: true,
        config: true,
        kv: true,
        centrifugo_api: false,
    };

    /// The names of the grantable imports, as written in `grants`.
    pub const NAMES: [&'static str; 4] = ["log", "config", "kv", "centrifugo-api"];

    /// Grants from the names in a `grants` list.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Grants, String> {
        let mut grants = Grants {
            log: false,
            config: false,
            kv: false,
            centrifugo_api: false,
        };
        for name in names {
            match name {
                "log" => grants.log = true,
                "config" => grants.config = true,
                "kv" => grants.kv = true,
                "centrifugo-api" => grants.centrifugo_api = true,
                other => {
                    return Err(format!(
                        "unknown capability `{other}` (one of: {})",
                        Grants::NAMES.join(", ")
                    ));
                }
            }
        }
        Ok(grants)
    }

    /// Whether a component may import `import` (a name such as
    /// `rotor:centrifugo/kv@0.1.0` or `wasi:clocks/monotonic-clock@0.2.6`).
    /// Imports Rotor does not know are left to the linker, which refuses them.
    pub fn allows(&self, import: &str) -> bool {
        let Some(interface) = import.strip_prefix("rotor:centrifugo/") else {
            return true;
        };
        let interface = interface.split('@').next().unwrap_or(interface);
        match interface {
            "log" => self.log,
            "config" => self.config,
            "kv" => self.kv,
            "centrifugo-api" => self.centrifugo_api,
            // Type-only interfaces carry no capability.
            _ => true,
        }
    }
}

impl fmt::Display for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let granted = [self.log, self.config, self.kv, self.centrifugo_api];
        let names: Vec<_> = Grants::NAMES
            .iter()
            .zip(granted)
            .filter_map(|(name, granted)| granted.then_some(*name))
            .collect();
        if names.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

/// The tenant canary calls run as (a reserved name: no configured tenant
/// may take it).
pub const CANARY_TENANT: &str = "canary";

/// How long warm instances live, and how many wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReusePolicy {
    /// Calls one instance serves before it is retired.
    pub max_calls: u32,
    /// How long one instance lives, from its creation.
    pub max_age: Duration,
    /// Instances kept idle between calls, at most.
    pub max_idle: u32,
}

/// One core, in the millicores CPU rates are counted in.
pub const CORE: u32 = 1000;

/// The largest proxy message, request or reply, Rotor ever decodes or
/// encodes, and the ceiling of a tenant's `max_request` and `max_reply`:
/// Centrifugo's own client message limit is 64 KiB by default, so this
/// leaves ample room.
pub const MAX_MESSAGE: u64 = 4 << 20;

/// Elements one table of a guest may hold: interpreters compiled to wasm
/// (JavaScript, Python) have large function tables. Both the instance pool
/// and the per-call limiter use it.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Core instances one component may have: a Rust guest has 3, a
/// JavaScript guest 4, a Python guest 14 (CPython's shared libraries are
/// linked at instantiation). Enforced per component, and the pool holds
/// this many per instance, so no component takes more than its slot.
pub const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
/// Linear memories one component may have: every guest toolchain Rotor
/// ships examples for builds components with one. Enforced per component,
/// and the pool holds this many per instance (each reserves address space,
/// so this stays small).
pub const MEMORIES_PER_COMPONENT: u32 = 2;
/// Tables one component may have: the guests Rotor ships examples for have
/// two (their own and the canonical ABI's shim). Enforced per component,
/// and the pool holds this many per instance.
pub const TABLES_PER_COMPONENT: u32 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_gate_rotor_imports_only() {
        let grants = Grants::from_names(["log", "kv"]).unwrap();
        assert!(grants.allows("rotor:centrifugo/log@0.1.0"));
        assert!(grants.allows("rotor:centrifugo/kv@0.1.0"));
        assert!(!grants.allows("rotor:centrifugo/config@0.1.0"));
        assert!(!grants.allows("rotor:centrifugo/centrifugo-api@0.1.0"));
        assert!(grants.allows("rotor:centrifugo/types@0.1.0"));
        assert!(grants.allows("wasi:clocks/monotonic-clock@0.2.6"));
        assert_eq!(grants.to_string(), "log, kv");
        let error = Grants::from_names(["files"]).unwrap_err();
        assert!(error.contains("files"), "{error}");
    }
}
