//! The `kv` import: the shared store, with every key prefixed by the
//! caller's tenant so tenants never see each other's keys, and every
//! operation bounded by the time left of the call.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::kv;
use crate::sandbox::CallState;
use crate::wit::kv::{Host, KvError};

impl CallState {
    /// The store key of a guest's `key`. The tenant name cannot contain a
    /// NUL, so no guest key reaches into another tenant's space.
    fn tenant_key(&self, key: &str) -> String {
        format!("{}\0{key}", self.guest.tenant)
    }

    /// The store, its key for `key`, and the call's deadline: owned, so
    /// the store's future does not borrow the call's state.
    fn store(&self, key: &str) -> (Arc<kv::KvStore>, String, Instant) {
        (
            self.guest.services.kv.clone(),
            self.tenant_key(key),
            self.deadline(),
        )
    }
}

/// Runs a store operation until `deadline` at most.
async fn bounded<T>(
    deadline: Instant,
    operation: impl Future<Output = Result<T, kv::KvError>>,
) -> Result<T, KvError> {
    match tokio::time::timeout_at(deadline.into(), operation).await {
        Ok(result) => result.map_err(KvError::from),
        Err(_) => Err(KvError::Unavailable(
            "the store did not answer in time".into(),
        )),
    }
}

fn ttl(ms: Option<u64>) -> Option<Duration> {
    ms.map(Duration::from_millis)
}

impl From<kv::KvError> for KvError {
    fn from(error: kv::KvError) -> KvError {
        match error {
            kv::KvError::Unavailable(message) => KvError::Unavailable(message),
            kv::KvError::Invalid(message) => KvError::Invalid(message),
        }
    }
}

impl Host for CallState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, KvError> {
        let (kv, key, deadline) = self.store(&key);
        bounded(deadline, kv.get(&key)).await
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), KvError> {
        let (kv, key, deadline) = self.store(&key);
        bounded(deadline, kv.set(&key, value, ttl(ttl_ms))).await
    }

    async fn delete(&mut self, key: String) -> Result<bool, KvError> {
        let (kv, key, deadline) = self.store(&key);
        bounded(deadline, kv.delete(&key)).await
    }

    async fn increment(
        &mut self,
        key: String,
        delta: i64,
        ttl_ms: Option<u64>,
    ) -> Result<i64, KvError> {
        let (kv, key, deadline) = self.store(&key);
        bounded(deadline, kv.increment(&key, delta, ttl(ttl_ms))).await
    }

    async fn compare_and_set(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<bool, KvError> {
        let (kv, key, deadline) = self.store(&key);
        bounded(
            deadline,
            kv.compare_and_set(&key, expected.as_deref(), value, ttl(ttl_ms)),
        )
        .await
    }
}
