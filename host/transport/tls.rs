//! TLS on the proxy listeners, with rustls and the `ring` provider (the one
//! crypto stack in the build). The certificate, the key and the client CA
//! are read at start and again on [`TlsCerts::reload`] (SIGHUP); a reload
//! that fails keeps the certificates that were serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

use crate::config::TlsConfig;

/// The ALPN protocol of gRPC: HTTP/2 only.
const ALPN_H2: &[u8] = b"h2";

/// Why the TLS files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM item of the kind needed.
    #[error("TLS {what} {path}: {message}")]
    File {
        /// `certificate`, `key` or `client CA`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// rustls refused the certificates (for example a key that does not
    /// match the certificate).
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

/// The live TLS server configuration of the proxy listeners: swapped whole
/// on reload, so a handshake sees the old or the new files, never a mix.
#[derive(Debug)]
pub struct TlsCerts {
    files: TlsConfig,
    current: ArcSwap<rustls::ServerConfig>,
}

impl TlsCerts {
    /// Reads the files `files` names.
    pub fn load(files: &TlsConfig) -> Result<TlsCerts, TlsError> {
        Ok(TlsCerts {
            current: ArcSwap::from_pointee(server_config(files)?),
            files: files.clone(),
        })
    }

    /// Reads the files again; on error the current certificates stay.
    pub fn reload(&self) -> Result<(), TlsError> {
        self.current.store(Arc::new(server_config(&self.files)?));
        Ok(())
    }

    /// An acceptor with the current certificates, for one connection.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.load_full())
    }
}

fn server_config(files: &TlsConfig) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = certificates("certificate", &files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|error| TlsError::File {
        what: "key",
        path: files.key.clone(),
        message: error.to_string(),
    })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Rustls(error.to_string()))?;
    let builder = match &files.client_ca {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates("client CA", path)? {
                roots.add(cert).map_err(|error| TlsError::File {
                    what: "client CA",
                    path: path.clone(),
                    message: error.to_string(),
                })?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|error| TlsError::Rustls(error.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|error| TlsError::Rustls(error.to_string()))?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// Every certificate of a PEM file; at least one.
fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let failed = |message: String| TlsError::File {
        what,
        path: path.to_owned(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|error| failed(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| failed(error.to_string()))?;
    if certs.is_empty() {
        return Err(failed("holds no PEM certificate".into()));
    }
    Ok(certs)
}
