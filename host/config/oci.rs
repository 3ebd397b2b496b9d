//! Plugin names that point into an OCI registry: `oci://host:port/repo/name:tag`
//! or `oci://host:port/repo/name@sha256:<hex>`, and the `[oci]` settings
//! used to reach registries. Pulling lives in `backends::oci`.

use std::fmt;
use std::time::Duration;

use oci_client::Reference;

/// How a plugin name says it comes from a registry.
pub const SCHEME: &str = "oci://";
/// How often `watch` resolves tags again unless `[oci] poll` says.
pub const DEFAULT_POLL: Duration = Duration::from_secs(30);

/// Why a plugin name that starts with `oci://` is not a reference Rotor reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{reference}` is not an OCI reference like oci://host:port/repo/name:tag: {reason}")]
pub struct BadReference {
    /// The reference as written.
    pub reference: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A parsed `oci://` plugin reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OciRef {
    /// The reference without `oci://`, e.g. `127.0.0.1:5000/plugins/auth:v1`.
    text: String,
}

impl OciRef {
    /// Parses `name` if it starts with `oci://`: `Ok(None)` for a file name.
    pub fn parse(name: &str) -> Result<Option<OciRef>, BadReference> {
        let Some(text) = name.strip_prefix(SCHEME) else {
            return Ok(None);
        };
        let bad = |reason: &str| BadReference {
            reference: name.to_owned(),
            reason: reason.to_owned(),
        };
        let reference: Reference = text.parse().map_err(|error| bad(&format!("{error}")))?;
        // Without a registry host the parser would pick Docker Hub: a
        // plugin's origin must be written out.
        let host = text.split('/').next().unwrap_or_default();
        if host != reference.registry() || !text.contains('/') {
            return Err(bad(
                "name the registry host first, e.g. oci://127.0.0.1:5000/repo/name:tag",
            ));
        }
        if reference.tag().is_none() && reference.digest().is_none() {
            return Err(bad("name a tag (`:v1`) or a digest (`@sha256:…`)"));
        }
        if let Some(digest) = reference.digest()
            && !is_sha256_digest(digest)
        {
            return Err(bad("a digest is `sha256:` and 64 lower-case hex digits"));
        }
        Ok(Some(OciRef {
            text: text.to_owned(),
        }))
    }

    /// The reference for the OCI client.
    pub fn reference(&self) -> Reference {
        self.text
            .parse()
            .expect("an OciRef parses: it was parsed when made")
    }

    /// The reference without `oci://`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The same repository, pinned to the manifest `digest`.
    pub fn pinned_to(&self, digest: &str) -> OciRef {
        let image = self.reference();
        OciRef {
            text: format!("{}/{}@{digest}", image.registry(), image.repository()),
        }
    }

    /// The registry host (and port).
    pub fn registry(&self) -> String {
        self.reference().registry().to_owned()
    }

    /// Whether it names a digest: then it never changes, and is pulled once.
    pub fn is_pinned(&self) -> bool {
        self.reference().digest().is_some()
    }
}

impl fmt::Display for OciRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.text)
    }
}

/// Whether `digest` is `sha256:` and 64 lower-case hex digits.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `[oci]`: how Rotor reaches registries.
#[derive(Clone, PartialEq, Eq)]
pub struct OciSettings {
    /// Basic-auth user name and password, if the registries need them.
    pub credentials: Option<(String, String)>,
    /// Registries (`host:port`) spoken to in plain HTTP, e.g. one on
    /// loopback; every other one is spoken to over HTTPS.
    pub insecure: Vec<String>,
    /// How often `watch` resolves tags again.
    pub poll: Duration,
}

impl Default for OciSettings {
    fn default() -> Self {
        OciSettings {
            credentials: None,
            insecure: Vec::new(),
            poll: DEFAULT_POLL,
        }
    }
}

impl fmt::Debug for OciSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OciSettings")
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("insecure", &self.insecure)
            .field("poll", &self.poll)
            .finish()
    }
}
