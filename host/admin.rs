//! The admin listener: liveness and readiness probes for orchestrators, and
//! operator endpoints to list plugin versions, reload the config and roll a
//! plugin back. Loopback by default; bound elsewhere it requires a bearer
//! token (checked at config load).
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

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;

use crate::server::Rotor;

/// Shared by the admin handlers.
#[derive(Clone)]
struct Admin {
    rotor: Rotor,
    token: Option<Arc<str>>,
    ready: Arc<AtomicBool>,
}

/// Serves the admin endpoints on `listener` until `shutdown` completes.
/// `ready` is what `/readyz` reports.
pub async fn serve(
    rotor: Rotor,
    listener: TcpListener,
    token: Option<String>,
    ready: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let admin = Admin {
        rotor,
        token: token.map(Arc::from),
        ready,
    };
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/admin/plugins", get(plugins))
        .route("/admin/tenants", get(tenants))
        .route("/admin/reload", post(reload))
        .route("/admin/rollback/{*plugin}", post(rollback))
        .with_state(admin);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
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
        if constant_time_eq(presented.as_bytes(), token.as_bytes()) {
            None
        } else {
            Some((StatusCode::UNAUTHORIZED, "a valid bearer token is required").into_response())
        }
    }
}

/// Compares without leaking, through timing, how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
