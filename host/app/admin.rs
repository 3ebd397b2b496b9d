//! The admin listener: liveness and readiness probes for orchestrators, and
//! operator endpoints to list plugin versions, reload the config and roll a
//! plugin back. Loopback by default; bound elsewhere it requires a bearer
//! token (checked at config load, where an empty token is refused too).
//!
//! | method | path | answer |
//! |---|---|---|
//! | GET | `/healthz` | 200 while the process runs |
//! | GET | `/readyz` | 200 once the proxy listeners are bound, 503 before and once shutdown started |
//! | GET | `/metrics` | Prometheus metrics |
//! | GET | `/admin/plugins` | live plugins: name, path, sha256, loaded_at, exports, previous_sha256 |
//! | GET | `/admin/tenants` | tenants: grants, limits, calls in flight, routes with their isolation mode, chains |
//! | POST | `/admin/reload` | reloads the config file, all or nothing |
//! | POST | `/admin/rollback/{plugin}` | puts back the plugin's previous version |
//!
//! Browsers are kept out, since a page the operator visits must not be able
//! to drive the listener on their behalf:
//!
//! - **DNS rebinding.** Every endpoint but the probes answers only requests
//!   whose `Host` is an IP address, `localhost`, or one of `[admin] hosts`. A
//!   page on a name the attacker controls, re-pointed at the listener's
//!   address, sends its own name as `Host` and is refused.
//! - **Cross-site requests.** A state-changing request (any method but GET
//!   and HEAD) must carry the bearer token when one is configured, and
//!   otherwise the [`ADMIN_HEADER`] header. Either makes it a request a page
//!   can send cross-origin only after a CORS preflight, which this listener
//!   never grants, so a form or a `fetch` from another origin cannot reload
//!   or roll back.
//! - `/metrics` needs no token, so that Prometheus can scrape it, and holds
//!   no secret: counts and durations by tenant, request type, plugin and
//!   outcome. It is `Host`-checked like the rest.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;

use crate::app::Rotor;
use crate::config::AdminConfig;
use crate::transport::listener::same_secret;

/// The header a state-changing request must carry when no token is
/// configured: a browser sends it cross-origin only after a preflight.
pub const ADMIN_HEADER: &str = "x-rotor-admin";

/// Shared by the admin handlers.
#[derive(Clone)]
struct Admin {
    rotor: Rotor,
    token: Option<Arc<str>>,
    /// Host names, lower-case and without a port, answered besides IP
    /// addresses and `localhost`.
    hosts: Arc<[String]>,
    ready: Arc<AtomicBool>,
}

/// Serves the admin endpoints on `listener` until `shutdown` completes,
/// with the token and host names of `config` (its `listen` is the
/// listener's business). `ready` is what `/readyz` reports.
pub async fn serve(
    rotor: Rotor,
    listener: TcpListener,
    config: AdminConfig,
    ready: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let admin = Admin {
        rotor,
        token: config.token.map(Arc::from),
        hosts: config
            .hosts
            .iter()
            .map(|host| host.to_ascii_lowercase())
            .collect(),
        ready,
    };
    let guarded = Router::new()
        .route("/metrics", get(metrics))
        .route("/admin/plugins", get(plugins))
        .route("/admin/tenants", get(tenants))
        .route("/admin/reload", post(reload))
        .route("/admin/rollback/{*plugin}", post(rollback))
        .route_layer(middleware::from_fn_with_state(admin.clone(), guard));
    // The probes answer whatever the Host: orchestrators call them by
    // address or by a name of their own, and they reveal nothing.
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .merge(guarded)
        .with_state(admin);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Refuses what a browser page could send: a request for another host
/// name (DNS rebinding), and a state-changing request that a page could
/// make without a CORS preflight.
async fn guard(State(admin): State<Admin>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if let Some(host) = headers.get("host")
        && !answers_host(&admin.hosts, host.to_str().unwrap_or(""))
    {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "the admin listener answers only to IP addresses, localhost and [admin] hosts",
        )
            .into_response();
    }
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes_state && admin.token.is_none() && !headers.contains_key(ADMIN_HEADER) {
        return (
            StatusCode::FORBIDDEN,
            format!("a state-changing request needs the `{ADMIN_HEADER}` header (or a token)"),
        )
            .into_response();
    }
    next.run(request).await
}

async fn tenants(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if let Some(refused) = admin.refuse(&headers) {
        return refused;
    }
    Json(admin.rotor.tenants()).into_response()
}

async fn readyz(State(admin): State<Admin>) -> Response {
    if admin.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
    }
}

async fn metrics(State(admin): State<Admin>) -> Response {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        admin.rotor.metrics_text(),
    )
        .into_response()
}

async fn plugins(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if let Some(refused) = admin.refuse(&headers) {
        return refused;
    }
    Json(admin.rotor.plugin_versions().await).into_response()
}

async fn reload(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if let Some(refused) = admin.refuse(&headers) {
        return refused;
    }
    match admin.rotor.reload_config().await {
        Ok(()) => Json(json!({ "reloaded": true })).into_response(),
        Err(error) => (
            StatusCode::CONFLICT,
            Json(json!({ "error": error.to_string() })),
        )
            .into_response(),
    }
}

async fn rollback(
    State(admin): State<Admin>,
    headers: HeaderMap,
    Path(plugin): Path<String>,
) -> Response {
    if let Some(refused) = admin.refuse(&headers) {
        return refused;
    }
    match admin.rotor.rollback(&plugin).await {
        Ok(sha256) => Json(json!({ "plugin": plugin, "sha256": sha256 })).into_response(),
        Err(error) => (
            StatusCode::CONFLICT,
            Json(json!({ "error": error.to_string() })),
        )
            .into_response(),
    }
}

impl Admin {
    /// A 401 unless the request carries the configured bearer token.
    fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        let token = self.token.as_deref()?;
        let presented = headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or("");
        if same_secret(presented.as_bytes(), token.as_bytes()) {
            None
        } else {
            Some((StatusCode::UNAUTHORIZED, "a valid bearer token is required").into_response())
        }
    }
}

/// Whether `host` (a `Host` header, port included) names this listener:
/// an IP address, `localhost`, or a configured name.
fn answers_host(hosts: &[String], host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // `[::1]:9901`
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<IpAddr>().is_ok() || name == "localhost" || hosts.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::answers_host;

    #[test]
    fn dns_rebinding_host_names_are_refused() {
        let hosts = ["rotor.internal".to_owned()];
        for host in [
            "127.0.0.1:9901",
            "10.1.2.3",
            "[::1]:9901",
            "localhost:9901",
            "LOCALHOST",
            "rotor.internal:9901",
            "Rotor.Internal.",
        ] {
            assert!(answers_host(&hosts, host), "{host}");
        }
        for host in [
            "attacker.example:9901",
            "attacker.example",
            "localhost.attacker.example",
            "127.0.0.1.attacker.example",
            "",
        ] {
            assert!(!answers_host(&hosts, host), "{host}");
        }
    }
}
