//! The `kv` import: the shared store, with every key prefixed by the
//! caller's tenant so tenants never see each other's keys.

use std::time::Duration;

use crate::kv;
use crate::sandbox::CallState;
use crate::wit::kv::{Host, KvError};

impl CallState {
    fn tenant_key(&self, key: &str) -> String {
        // The tenant name cannot contain a NUL, so no guest key can reach
        // into another tenant's space.
        format!("{}\0{key}", self.guest.tenant)
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
        Ok(self.guest.services.kv.get(&self.tenant_key(&key))?)
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), KvError> {
        Ok(self
            .guest
            .services
            .kv
            .set(&self.tenant_key(&key), value, ttl(ttl_ms))?)
    }

    async fn delete(&mut self, key: String) -> Result<bool, KvError> {
        Ok(self.guest.services.kv.delete(&self.tenant_key(&key))?)
    }

    async fn increment(
        &mut self,
        key: String,
        delta: i64,
        ttl_ms: Option<u64>,
    ) -> Result<i64, KvError> {
        Ok(self
            .guest
            .services
            .kv
            .increment(&self.tenant_key(&key), delta, ttl(ttl_ms))?)
    }

    async fn compare_and_set(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<bool, KvError> {
        Ok(self.guest.services.kv.compare_and_set(
            &self.tenant_key(&key),
            expected.as_deref(),
            value,
            ttl(ttl_ms),
        )?)
    }
}
