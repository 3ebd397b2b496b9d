//! Which plugin answers a call: the registry of loaded routes, tenancy
//! (which tenant a call belongs to) and the channel scopes of grants.

pub(crate) mod admission;
pub(crate) mod registry;
pub(crate) mod scope;
pub(crate) mod tenancy;
