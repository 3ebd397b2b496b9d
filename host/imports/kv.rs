//! The `kv` import: the shared store, with every key prefixed by the
//! caller's tenant so tenants never see each other's keys, and every
//! operation bounded by the time left of the call.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::kv;
use crate::sandbox::CallState;
use crate::telemetry::HostCall;
use crate::wit::kv::{Host, KvError};

impl CallState {
    /// The store key of a guest's `key`. The tenant name cannot contain a
    /// NUL, so no guest key reaches into another tenant's space.
    fn tenant_key(&self, key: &str) -> String {
        format!("{}\0{key}", self.guest.tenant)
    }

    /// The store, its key for `key`, and the operation `op` about to run:
    /// owned, so the store's future does not borrow the call's state.
    fn store(&self, op: &'static str, key: &str) -> (Arc<kv::KvStore>, String, Operation) {
        let services = &self.guest.services;
        let operation = Operation {
            deadline: self.deadline(),
            timing: services.metrics.host_call(&self.guest.tenant, "kv", op),
        };
        (services.kv.clone(), self.tenant_key(key), operation)
    }
}

/// A store operation of a guest: bounded by its call's deadline, and
/// counted.
struct Operation {
    deadline: Instant,
    timing: HostCall,
}

impl Operation {
    /// Runs `operation` until the deadline at most.
    async fn run<T>(
        self,
        operation: impl Future<Output = Result<T, kv::KvError>>,
    ) -> Result<T, KvError> {
        let result = match tokio::time::timeout_at(self.deadline.into(), operation).await {
            Ok(result) => result.map_err(KvError::from),
            Err(_) => Err(KvError::Unavailable(
                "the store did not answer in time".into(),
            )),
        };
        self.timing.finish(match &result {
            Ok(_) => "ok",
            Err(KvError::Unavailable(_)) => "unavailable",
            Err(KvError::Invalid(_)) => "invalid",
        });
        result
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
        let (kv, key, operation) = self.store("get", &key);
        operation.run(kv.get(&key)).await
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), KvError> {
        let (kv, key, operation) = self.store("set", &key);
        operation.run(kv.set(&key, value, ttl(ttl_ms))).await
    }

    async fn delete(&mut self, key: String) -> Result<bool, KvError> {
        let (kv, key, operation) = self.store("delete", &key);
        operation.run(kv.delete(&key)).await
    }

    async fn increment(
        &mut self,
        key: String,
        delta: i64,
        ttl_ms: Option<u64>,
    ) -> Result<i64, KvError> {
        let (kv, key, operation) = self.store("increment", &key);
        operation.run(kv.increment(&key, delta, ttl(ttl_ms))).await
    }

    async fn compare_and_set(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<bool, KvError> {
        let (kv, key, operation) = self.store("compare_and_set", &key);
        operation
            .run(kv.compare_and_set(&key, expected.as_deref(), value, ttl(ttl_ms)))
            .await
    }
}
