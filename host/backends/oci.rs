//! Plugins from an OCI registry: wherever the config names a plugin file,
//! it may name `oci://host:port/repo/name:tag` or
//! `oci://host:port/repo/name@sha256:<hex>` instead.
//!
//! A reference is resolved to a manifest, whose one `application/wasm`
//! layer is the component. The layer is pulled once, checked against its
//! digest, and kept content-addressed beside the compile cache
//! (`blobs/sha256/<hex>`); from then on Rotor loads it from there like any
//! plugin file, so everything a file gets (compile cache, validation,
//! canary, rollback, `/admin/plugins`) an OCI plugin gets too. The last
//! resolution of each reference is kept as well, so a Rotor whose registry
//! is down at start serves what it pulled before, and says so; without a
//! copy, it names the reference it could not pull.
//!
//! Components are published in the layout of the CNCF wasm working group's
//! OCI artifact spec: config media type and artifact type
//! `application/vnd.wasm.config.v0+json`, one layer `application/wasm`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol, Config as OciConfigBlob, ImageLayer};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciImageManifest};
use oci_client::secrets::RegistryAuth;

use crate::config::CompileCache;
use crate::config::oci::{BadReference, OciRef, OciSettings, is_sha256_digest};

/// The config (and artifact) media type of a wasm component artifact.
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of the layer that holds the component.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// How long one registry request may take: a registry that hangs fails the
/// start (or the poll) instead of holding it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting to a registry may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The manifest media types Rotor reads.
const MANIFEST_TYPES: [&str; 2] = [
    OCI_IMAGE_MEDIA_TYPE,
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// Why a component could not be pulled or pushed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The reference is not of the form Rotor reads.
    #[error(transparent)]
    BadReference(#[from] BadReference),
    /// The registry could not be reached or refused the request, and no
    /// copy was pulled before.
    #[error("cannot pull {reference}: {reason}")]
    Pull {
        /// The reference.
        reference: String,
        /// The registry's or the network's error.
        reason: String,
    },
    /// The artifact is not a wasm component artifact.
    #[error("{reference} is not a wasm component artifact: {reason}")]
    NotWasm {
        /// The reference.
        reference: String,
        /// What it has instead.
        reason: String,
    },
    /// The local store could not be read or written.
    #[error("the OCI store {path}: {source}")]
    Store {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The registry refused a push.
    #[error("cannot push to {reference}: {reason}")]
    Push {
        /// The reference.
        reference: String,
        /// The registry's or the network's error.
        reason: String,
    },
}

/// Where a reference resolved to: the manifest, and the component's file
/// in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The manifest's digest: what pins this version.
    pub manifest: String,
    /// The component layer's digest.
    pub layer: String,
    /// The component's file in the store.
    pub path: PathBuf,
}

/// Components pulled from registries, by content, and the last resolution
/// of each reference.
#[derive(Debug, Clone)]
pub struct OciStore {
    dir: PathBuf,
}

impl OciStore {
    /// The store beside `cache`: `<dir>-oci` for a cache directory, the
    /// user's cache directory (`$XDG_CACHE_HOME/rotor/oci`, else
    /// `~/.cache/rotor/oci`) for the default cache, and a directory under
    /// the system's temporary directory when the compile cache is off.
    pub fn for_cache(cache: &CompileCache) -> OciStore {
        let dir = match cache {
            // Beside the compile cache, not in it: wasmtime's cache worker
            // removes files it did not write from its directory.
            CompileCache::Dir(dir) => {
                let mut name = dir.file_name().unwrap_or_default().to_os_string();
                name.push("-oci");
                dir.with_file_name(name)
            }
            CompileCache::Default => std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
                .unwrap_or_else(std::env::temp_dir)
                .join("rotor/oci"),
            CompileCache::Off => std::env::temp_dir().join("rotor-oci"),
        };
        OciStore { dir }
    }

    /// A store in `dir`.
    pub fn at(dir: PathBuf) -> OciStore {
        OciStore { dir }
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join("blobs/sha256").join(hex)
    }

    fn index_path(&self, reference: &OciRef) -> PathBuf {
        self.dir
            .join("refs")
            .join(crate::digest::sha256_hex(reference.text().as_bytes()))
    }

    /// The last resolution of `reference`, if its component is still here
    /// and intact.
    pub fn cached(&self, reference: &OciRef) -> Option<Resolved> {
        let index = std::fs::read_to_string(self.index_path(reference)).ok()?;
        let (manifest, layer) = index.trim().split_once(' ')?;
        let path = self.blob_path(layer);
        self.holds(layer).then(|| Resolved {
            manifest: manifest.to_owned(),
            layer: layer.to_owned(),
            path,
        })
    }

    /// Whether the blob `digest` is here and its content matches it.
    fn holds(&self, digest: &str) -> bool {
        std::fs::read(self.blob_path(digest))
            .is_ok_and(|bytes| format!("sha256:{}", crate::digest::sha256_hex(&bytes)) == digest)
    }

    /// Keeps `bytes` as blob `digest`, written beside and renamed into
    /// place so a reader never sees half a blob.
    fn put_blob(&self, digest: &str, bytes: &[u8]) -> Result<PathBuf, OciError> {
        let path = self.blob_path(digest);
        write_atomically(&path, bytes)?;
        Ok(path)
    }

    /// Remembers that `reference` resolved to `resolved`, and that the
    /// reference pinned to its manifest's digest did too.
    fn remember(&self, reference: &OciRef, resolved: &Resolved) -> Result<(), OciError> {
        let line = format!("{} {}\n", resolved.manifest, resolved.layer);
        write_atomically(&self.index_path(reference), line.as_bytes())?;
        let pinned = reference.pinned_to(&resolved.manifest);
        write_atomically(&self.index_path(&pinned), line.as_bytes())
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), OciError> {
    let failed = |source| OciError::Store {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let staging = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&staging, bytes).map_err(failed)?;
    std::fs::rename(&staging, path).map_err(failed)
}

/// Pulls and pushes components.
pub struct OciClient {
    client: Client,
    auth: RegistryAuth,
    store: OciStore,
}

impl OciClient {
    /// A client with `settings`, keeping what it pulls in `store`.
    pub fn new(settings: &OciSettings, store: OciStore) -> OciClient {
        install_crypto_provider();
        let config = ClientConfig {
            protocol: if settings.insecure.is_empty() {
                ClientProtocol::Https
            } else {
                ClientProtocol::HttpsExcept(settings.insecure.clone())
            },
            read_timeout: Some(REQUEST_TIMEOUT),
            connect_timeout: Some(CONNECT_TIMEOUT),
            ..ClientConfig::default()
        };
        let auth = match &settings.credentials {
            Some((user, password)) => RegistryAuth::Basic(user.clone(), password.clone()),
            None => RegistryAuth::Anonymous,
        };
        OciClient {
            client: Client::new(config),
            auth,
            store,
        }
    }

    /// Its store.
    pub fn store(&self) -> &OciStore {
        &self.store
    }

    /// Resolves `reference` at its registry and makes sure its component is
    /// in the store: pulled and checked against its digest if it is not.
    pub async fn pull(&self, reference: &OciRef) -> Result<Resolved, OciError> {
        let image = reference.reference();
        let failed = |error: oci_client::errors::OciDistributionError| OciError::Pull {
            reference: reference.to_string(),
            reason: error.to_string(),
        };
        // The client checks the manifest against a pinned digest.
        let (body, manifest_digest) = self
            .client
            .pull_manifest_raw(&image, &self.auth, &MANIFEST_TYPES)
            .await
            .map_err(failed)?;
        let manifest: OciImageManifest =
            serde_json::from_slice(&body).map_err(|error| OciError::NotWasm {
                reference: reference.to_string(),
                reason: format!("its manifest does not parse: {error}"),
            })?;
        let layer = wasm_layer(&manifest).map_err(|reason| OciError::NotWasm {
            reference: reference.to_string(),
            reason,
        })?;
        let path = if self.store.holds(&layer.digest) {
            self.store.blob_path(&layer.digest)
        } else {
            let mut bytes = Vec::new();
            // The client checks the bytes against the layer's digest.
            self.client
                .pull_blob(&image, &layer, &mut bytes)
                .await
                .map_err(failed)?;
            self.store.put_blob(&layer.digest, &bytes)?
        };
        let resolved = Resolved {
            manifest: manifest_digest,
            layer: layer.digest.clone(),
            path,
        };
        self.store.remember(reference, &resolved)?;
        Ok(resolved)
    }

    /// What `reference` is at start: a pinned digest already in the store
    /// without asking the registry; otherwise the registry's answer, or the
    /// last one kept if the registry cannot be reached (with a warning).
    pub async fn resolve(&self, reference: &OciRef) -> Result<Resolved, OciError> {
        if reference.is_pinned()
            && let Some(cached) = self.store.cached(reference)
        {
            return Ok(cached);
        }
        match self.pull(reference).await {
            Ok(resolved) => Ok(resolved),
            Err(error @ (OciError::NotWasm { .. } | OciError::BadReference(_))) => Err(error),
            Err(error) => match self.store.cached(reference) {
                Some(cached) => {
                    tracing::warn!(
                        %reference,
                        digest = %cached.manifest,
                        "the registry cannot be reached; serving the copy pulled before: {error}"
                    );
                    Ok(cached)
                }
                None => Err(error),
            },
        }
    }

    /// Publishes the component `bytes` as `reference` in the wasm working
    /// group's layout; returns the manifest's digest.
    pub async fn push(
        &self,
        reference: &OciRef,
        bytes: Vec<u8>,
        component: ComponentInfo,
    ) -> Result<String, OciError> {
        let image = reference.reference();
        let failed = |error: oci_client::errors::OciDistributionError| OciError::Push {
            reference: reference.to_string(),
            reason: error.to_string(),
        };
        let layer = ImageLayer::new(bytes, WASM_LAYER_MEDIA_TYPE.to_owned(), None);
        let config = wasm_config(&layer.sha256_digest(), component, SystemTime::now());
        let config = OciConfigBlob::new(config, WASM_CONFIG_MEDIA_TYPE.to_owned(), None);
        let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, None);
        manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_owned());
        manifest.artifact_type = Some(WASM_CONFIG_MEDIA_TYPE.to_owned());
        self.client
            .push(&image, &[layer], config, &self.auth, Some(manifest))
            .await
            .map_err(failed)?;
        self.client
            .fetch_manifest_digest(&image, &self.auth)
            .await
            .map_err(failed)
    }
}

/// The one `application/wasm` layer of a manifest.
fn wasm_layer(manifest: &OciImageManifest) -> Result<oci_client::manifest::OciDescriptor, String> {
    let mut wasm = manifest
        .layers
        .iter()
        .filter(|layer| layer.media_type == WASM_LAYER_MEDIA_TYPE);
    match (wasm.next(), wasm.next()) {
        (Some(layer), None) if is_sha256_digest(&layer.digest) => Ok(layer.clone()),
        (Some(layer), None) => Err(format!(
            "its layer's digest `{}` is not a sha256 digest",
            layer.digest
        )),
        (None, _) => Err(format!(
            "it has no `{WASM_LAYER_MEDIA_TYPE}` layer (layers: {})",
            manifest
                .layers
                .iter()
                .map(|layer| layer.media_type.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (Some(_), Some(_)) => Err(format!(
            "it has more than one `{WASM_LAYER_MEDIA_TYPE}` layer"
        )),
    }
}

/// What the artifact's config says of the component.
#[derive(Debug, Clone, Default)]
pub struct ComponentInfo {
    /// The interfaces it exports, by full name.
    pub exports: Vec<String>,
    /// The interfaces it imports, by full name.
    pub imports: Vec<String>,
}

/// The imports and exports of the component `bytes`, which must compile.
pub fn component_info(bytes: &[u8]) -> Result<ComponentInfo, crate::PluginError> {
    let engine = wasmtime::Engine::default();
    let component = wasmtime::component::Component::new(&engine, bytes)
        .map_err(|error| crate::PluginError::Compile(format!("{error:#}")))?;
    let ty = component.component_type();
    Ok(ComponentInfo {
        exports: ty
            .exports(&engine)
            .map(|(name, _)| name.to_owned())
            .collect(),
        imports: ty
            .imports(&engine)
            .map(|(name, _)| name.to_owned())
            .collect(),
    })
}

/// The config blob of the wasm artifact layout: architecture `wasm`, os
/// `wasip2`, the layer's digest and the component's world.
fn wasm_config(layer_digest: &str, component: ComponentInfo, created: SystemTime) -> Vec<u8> {
    let config = serde_json::json!({
        "created": rfc3339(created),
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest],
        "component": {
            "exports": component.exports,
            "imports": component.imports,
        },
    });
    serde_json::to_vec(&config).expect("a JSON value serializes")
}

/// `time` as an RFC 3339 UTC timestamp, to the second.
fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Resolves every registry reference of `config` and points its plugins at
/// their components in the store: at start and at each config reload.
pub async fn resolve_config(config: &mut crate::Config) -> Result<(), OciError> {
    let references = config.oci_refs();
    if references.is_empty() {
        return Ok(());
    }
    let client = OciClient::new(&config.oci, OciStore::for_cache(&config.compile_cache));
    let resolved = resolve_all(&client, references).await?;
    config.resolve_oci(
        &resolved
            .into_iter()
            .map(|(reference, found)| (reference, found.path))
            .collect(),
    );
    Ok(())
}

/// The references of every plugin `plugins` names, resolved: at start and
/// at each config reload. Fails on the first reference that can be neither
/// pulled nor found in the store, naming it.
pub async fn resolve_all(
    client: &OciClient,
    references: impl IntoIterator<Item = OciRef>,
) -> Result<BTreeMap<OciRef, Resolved>, OciError> {
    let mut resolved = BTreeMap::new();
    for reference in references {
        if resolved.contains_key(&reference) {
            continue;
        }
        let found = client.resolve(&reference).await?;
        tracing::info!(%reference, digest = %found.manifest, "plugin resolved");
        resolved.insert(reference, found);
    }
    Ok(resolved)
}

/// Makes ring, the one crypto provider in the build, the process default,
/// for clients that take the default (the OCI registry client). Idempotent.
pub(crate) fn install_crypto_provider() {
    // Fails only when a provider is installed already, which is then ring.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_their_registry_and_a_tag_or_digest() {
        let tag = OciRef::parse("oci://127.0.0.1:5000/plugins/auth:v1")
            .unwrap()
            .expect("an OCI reference");
        assert_eq!(tag.registry(), "127.0.0.1:5000");
        assert!(!tag.is_pinned());
        assert_eq!(tag.to_string(), "oci://127.0.0.1:5000/plugins/auth:v1");
        let digest = format!(
            "oci://127.0.0.1:5000/plugins/auth@sha256:{}",
            "ab".repeat(32)
        );
        assert!(OciRef::parse(&digest).unwrap().unwrap().is_pinned());
        assert_eq!(OciRef::parse("auth.wasm").unwrap(), None);
        for bad in [
            "oci://plugins/auth:v1",
            "oci://auth:v1",
            "oci://127.0.0.1:5000/plugins/auth@sha256:beef",
            "oci://127.0.0.1:5000/Plugins/auth:v1",
        ] {
            let error = OciRef::parse(bad).expect_err(bad).to_string();
            assert!(error.contains(bad), "{error}");
        }
    }

    #[test]
    fn the_store_serves_only_intact_blobs() {
        let dir = std::env::temp_dir().join(format!("rotor-oci-store-{}", std::process::id()));
        let store = OciStore::at(dir.clone());
        let reference = OciRef::parse("oci://127.0.0.1:5000/p/a:v1")
            .unwrap()
            .unwrap();
        assert_eq!(store.cached(&reference), None);
        let bytes = b"\0asm component bytes";
        let digest = format!("sha256:{}", crate::digest::sha256_hex(bytes));
        let path = store.put_blob(&digest, bytes).unwrap();
        let resolved = Resolved {
            manifest: format!("sha256:{}", "cd".repeat(32)),
            layer: digest,
            path: path.clone(),
        };
        store.remember(&reference, &resolved).unwrap();
        assert_eq!(store.cached(&reference), Some(resolved));
        // A blob changed on disk no longer matches its digest.
        std::fs::write(&path, b"tampered").unwrap();
        assert_eq!(store.cached(&reference), None);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_config_blob_follows_the_wasm_artifact_layout() {
        let info = ComponentInfo {
            exports: vec!["rotor:centrifugo/rpc-handler@0.1.0".into()],
            imports: vec!["rotor:centrifugo/log@0.1.0".into()],
        };
        let bytes = wasm_config("sha256:00", info, SystemTime::UNIX_EPOCH);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["architecture"], "wasm");
        assert_eq!(json["os"], "wasip2");
        assert_eq!(json["layerDigests"][0], "sha256:00");
        assert_eq!(json["created"], "1970-01-01T00:00:00Z");
        assert_eq!(
            json["component"]["exports"][0],
            "rotor:centrifugo/rpc-handler@0.1.0"
        );
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        assert_eq!(rfc3339(time), "2024-02-29T23:59:59Z");
    }
}
