//! Changing what runs without a restart: reloads of the config and the
//! plugins, each checked by canary calls before it is swapped in.

pub(crate) mod canary;
pub(crate) mod reload;
pub(crate) mod series;
