//! The `kv` import: the shared store, in the caller's tenant's key space
//! so tenants never see each other's keys, within the tenant's byte budget,
//! at most the tenant's `kv_ops` operations per guest call, and every
//! operation bounded by the time left of the call.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backends::kv::{self, Space};
use crate::contract::wit::kv::{Host, KvError};
use crate::runtime::store::{CallState, Guest};
use crate::telemetry::HostCall;

/// The operations of the `kv` import, as metrics name them.
pub(crate) const OPERATIONS: [&str; 5] = ["get", "set", "delete", "increment", "compare_and_set"];

impl CallState {
    /// The operation `op` about to run, after spending one of the call's
    /// `kv` operations, or a refusal once they are spent. Owned, so the
    /// store's future does not borrow the call's state.
    fn store(&mut self, op: &'static str) -> Result<Operation, KvError> {
        let services = &self.guest.services;
        let timing = services.metrics.host_call(&self.guest.tenant, "kv", op);
        let Some(left) = self.kv_budget.checked_sub(1) else {
            timing.finish("denied");
            return Err(KvError::Invalid(
                "the kv operations of this call are spent (the tenant's `kv_ops` limit)".into(),
            ));
        };
        self.kv_budget = left;
        Ok(Operation {
            kv: services.kv.clone(),
            guest: self.guest.clone(),
            max_bytes: self.kv_bytes,
            deadline: self.deadline(),
            timing,
        })
    }
}

/// A store operation of a guest: in its tenant's space and budget, bounded
/// by its call's deadline, and counted.
struct Operation {
    kv: Arc<kv::KvStore>,
    guest: Arc<Guest>,
    max_bytes: u64,
    deadline: Instant,
    timing: HostCall,
}

impl Operation {
    /// The tenant's key space and budget.
    fn space(&self) -> Space<'_> {
        Space {
            tenant: &self.guest.tenant,
            max_bytes: self.max_bytes,
        }
    }

    /// Awaits `operation` until the deadline at most.
    async fn bounded<T>(
        &self,
        operation: impl Future<Output = Result<T, kv::KvError>>,
    ) -> Result<T, kv::KvError> {
        match tokio::time::timeout_at(self.deadline.into(), operation).await {
            Ok(result) => result,
            Err(_) => Err(kv::KvError::Unavailable(
                "the store did not answer in time".into(),
            )),
        }
    }

    /// Counts the operation's outcome and hands it to the guest.
    fn finish<T>(self, result: Result<T, kv::KvError>) -> Result<T, KvError> {
        self.timing.finish(match &result {
            Ok(_) => "ok",
            Err(kv::KvError::Unavailable(_)) => "unavailable",
            Err(kv::KvError::Invalid(_)) => "invalid",
            Err(kv::KvError::Full { .. }) => "full",
        });
        result.map_err(KvError::from)
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
            full @ kv::KvError::Full { .. } => KvError::Unavailable(full.to_string()),
        }
    }
}

impl Host for CallState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, KvError> {
        let op = self.store("get")?;
        let result = op.bounded(op.kv.get(op.space(), &key)).await;
        op.finish(result)
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), KvError> {
        let op = self.store("set")?;
        let result = op
            .bounded(op.kv.set(op.space(), &key, value, ttl(ttl_ms)))
            .await;
        op.finish(result)
    }

    async fn delete(&mut self, key: String) -> Result<bool, KvError> {
        let op = self.store("delete")?;
        let result = op.bounded(op.kv.delete(op.space(), &key)).await;
        op.finish(result)
    }

    async fn increment(
        &mut self,
        key: String,
        delta: i64,
        ttl_ms: Option<u64>,
    ) -> Result<i64, KvError> {
        let op = self.store("increment")?;
        let result = op
            .bounded(op.kv.increment(op.space(), &key, delta, ttl(ttl_ms)))
            .await;
        op.finish(result)
    }

    async fn compare_and_set(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<bool, KvError> {
        let op = self.store("compare_and_set")?;
        let space = op.space();
        let result = op
            .bounded(
                op.kv
                    .compare_and_set(space, &key, expected.as_deref(), value, ttl(ttl_ms)),
            )
            .await;
        op.finish(result)
    }
}
