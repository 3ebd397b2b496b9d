//! The defaults of every setting the config file may leave out, each with
//! the reason for its value.

use std::time::Duration;

/// Where Centrifugo's proxy points when `listen` is not set.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:10001";
/// Plugins live beside the config file unless told otherwise.
pub const DEFAULT_PLUGIN_DIR: &str = ".";
/// Linear memory per instance: ample for handlers written in Rust, JS or Python.
pub const DEFAULT_MEMORY: u64 = 64 << 20;
/// Linear memory a pool slot keeps mapped between instances (`[pool]
/// keep_resident`). Only the pages an instance dirtied are reset, by copy,
/// and a slot keeps only pages that were dirtied, so small guests cost no
/// more with a larger value. JS and Python guests dirty megabytes of their
/// heap images per call; past this amount every page they touch is unmapped
/// and faulted in again on the next call. Kept at 1 MiB by default: a larger
/// value bought a fresh JS instance only about 10% and Python nothing, while
/// every slot a large guest used would keep that much resident.
pub const DEFAULT_KEEP_RESIDENT: u64 = 1 << 20;
/// CPU time per call: well inside Centrifugo's default 1 s proxy timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
/// One server API call: guests wait on it inside Centrifugo's 1 s proxy deadline.
pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_millis(500);
/// Keys Rotor writes to a shared Redis start with this, apart from other users'.
pub const DEFAULT_KV_PREFIX: &str = "rotor:";
/// Concurrent calls: bounds memory use under load instead of queueing without end.
pub const DEFAULT_CONCURRENCY: u32 = 256;
/// Calls one warm instance serves before it is retired.
pub const DEFAULT_REUSE_MAX_CALLS: u32 = 10_000;
/// How long one warm instance lives.
pub const DEFAULT_REUSE_MAX_AGE: Duration = Duration::from_secs(60);
/// Warm instances kept idle per plugin, at most (and at most the tenant's
/// concurrency).
pub const DEFAULT_REUSE_MAX_IDLE: u32 = 16;
/// Requests and replies: 1 MiB, far above Centrifugo's own 64 KiB client
/// message limit.
pub const DEFAULT_MAX_MESSAGE: u64 = 1 << 20;
/// HTTP/2 streams (calls) open at once on one proxy connection: twice the
/// default concurrency, since Centrifugo sends all the calls of a proxy type
/// over one connection and calls past a tenant's concurrency fail at once.
pub const DEFAULT_MAX_STREAMS: u32 = 512;
/// Request headers (gRPC metadata) of one call: Centrifugo forwards a few
/// client headers, cookies included; this is hyper's own default.
pub const DEFAULT_MAX_HEADER_BYTES: u32 = 16 << 10;
/// The longest a call may take, body included, when the caller sets no
/// shorter `grpc-timeout`: ten times Centrifugo's default proxy timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once on each proxy listener; Centrifugo opens about
/// one per proxy type and node.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;
/// What a tenant's `kv` entries may cost in all: room for about 300,000
/// rate-limit counters, and a bound on what one tenant can take from the
/// store (the embedded store's memory, or a shared Redis).
pub const DEFAULT_KV_BYTES: u64 = 64 << 20;
/// `kv` operations one guest call may make: far more than a rate limit or
/// a booking needs, few enough that one call cannot keep the store busy.
pub const DEFAULT_KV_OPS: u32 = 128;
/// Server API work one guest call may cause: each call counts one, and a
/// `batch` or `broadcast` one per command or channel.
pub const DEFAULT_API_CALLS: u32 = 16;
/// Instances a canary run holds at once: one, outside every tenant's share;
/// the pool holds a slot for it.
pub const CANARY_INSTANCES: u32 = 1;
/// Log lines a second that one tenant's guests may write together: a line
/// per call at a few hundred calls a second, yet too few for one tenant to
/// flood the log (at most 400 KiB a second of 2 KiB lines).
pub const DEFAULT_LOG_RATE: u32 = 200;
/// `service.name` of exported spans: what a trace viewer lists Rotor's
/// spans under unless several deployments must be told apart.
pub const DEFAULT_SERVICE_NAME: &str = "rotor";
/// Subscription streams one tenant may have open at once. Each holds an
/// instance (up to its `memory`) for its life, and the instance pool
/// reserves a slot for every one, so the default stays modest.
pub const DEFAULT_STREAMS: u32 = 64;
/// How long a stream may go without a publication, client data or timer:
/// a stream that does nothing for ten minutes holds an instance for
/// nothing, and its client subscribes again if it still cares.
pub const DEFAULT_STREAM_IDLE: Duration = Duration::from_secs(600);
