//! TLS on the proxy listener, as Centrifugo's `grpc.tls` uses it: the
//! server certificate, mutual TLS with a client CA, and certificates
//! replaced on SIGHUP without a restart. Certificates are made here.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rotor::proto::proxy as pb;
use rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::support::{ScratchDir, TestServer, plugin_dir, request};

/// A certificate authority of a test.
struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, in PEM.
struct Pem {
    cert: String,
    key: String,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("a CA key");
        Authority {
            issuer: CertifiedIssuer::self_signed(params, key).expect("a CA certificate"),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `names`, for a server or a client.
    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Pem {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "rotor test");
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("a key");
        let cert = params
            .signed_by(&key, &*self.issuer)
            .expect("a certificate");
        Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    fn server(&self) -> Pem {
        self.issue(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    fn client(&self) -> Pem {
        self.issue(&["centrifugo"], ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// Writes the server's certificate and key, and the client CA, into `dir`.
fn write_files(dir: &Path, server: &Pem, client_ca: &Authority) {
    std::fs::write(dir.join("rotor.pem"), &server.cert).expect("writing the certificate");
    std::fs::write(dir.join("rotor-key.pem"), &server.key).expect("writing the key");
    std::fs::write(dir.join("client-ca.pem"), client_ca.pem()).expect("writing the client CA");
}

const TLS_CONFIG: &str =
    "[tls]\ncert = \"rotor.pem\"\nkey = \"rotor-key.pem\"\nclient_ca = \"client-ca.pem\"\n";

/// Calls RPC `echo` over TLS, trusting `server_ca` and presenting
/// `identity`; the error, if the call failed.
async fn echo(
    address: std::net::SocketAddr,
    server_ca: &str,
    identity: Option<&Pem>,
) -> Result<(), String> {
    let mut tls = ClientTlsConfig::new()
        .domain_name("localhost")
        .ca_certificate(Certificate::from_pem(server_ca));
    if let Some(identity) = identity {
        tls = tls.identity(Identity::from_pem(&identity.cert, &identity.key));
    }
    let endpoint = Endpoint::from_shared(format!("https://{address}"))
        .expect("an endpoint")
        .tls_config(tls)
        .map_err(|error| error.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5));
    let channel = endpoint
        .connect()
        .await
        .map_err(|error| format!("connect: {error:?}"))?;
    let message = pb::RpcRequest {
        method: "echo".into(),
        data: b"{}".to_vec(),
        ..Default::default()
    };
    CentrifugoProxyClient::new(channel)
        .rpc(request(message, &[]))
        .await
        .map(drop)
        .map_err(|status| format!("call: {status}"))
}

#[tokio::test]
async fn mutual_tls_serves_only_clients_with_a_certificate_of_the_client_ca() {
    let server_ca = Authority::new("server CA");
    let client_ca = Authority::new("client CA");
    let other_ca = Authority::new("another CA");
    let dir = ScratchDir::new();
    write_files(dir.path(), &server_ca.server(), &client_ca);
    let config = format!(
        "[plugins]\ndir = {:?}\n[handlers]\nrpc = \"test-mirror.wasm\"\n{TLS_CONFIG}",
        plugin_dir().display().to_string()
    );
    let server = TestServer::start_lazy_in(dir, &config).await;
    let address = server.address;

    echo(address, &server_ca.pem(), Some(&client_ca.client()))
        .await
        .expect("a client with a certificate of the client CA is served");
    let none = echo(address, &server_ca.pem(), None).await;
    assert!(none.is_err(), "a client without a certificate: {none:?}");
    let wrong = echo(address, &server_ca.pem(), Some(&other_ca.client())).await;
    assert!(wrong.is_err(), "a certificate of another CA: {wrong:?}");
    // A plain-text client gets nothing either.
    let plain = server
        .client
        .clone()
        .rpc(request(pb::RpcRequest::default(), &[]))
        .await;
    assert!(plain.is_err(), "plain text on a TLS listener: {plain:?}");
    // The server is still fine.
    echo(address, &server_ca.pem(), Some(&client_ca.client()))
        .await
        .expect("served after the refusals");
}

#[tokio::test]
async fn reloaded_certificates_serve_new_connections() {
    let first_ca = Authority::new("first server CA");
    let client_ca = Authority::new("client CA");
    let dir = ScratchDir::new();
    write_files(dir.path(), &first_ca.server(), &client_ca);
    let config = format!(
        "[plugins]\ndir = {:?}\n[handlers]\nrpc = \"test-mirror.wasm\"\n{TLS_CONFIG}",
        plugin_dir().display().to_string()
    );
    let server = TestServer::start_lazy_in(dir, &config).await;
    let address = server.address;
    let client = client_ca.client();
    echo(address, &first_ca.pem(), Some(&client))
        .await
        .expect("served with the first certificate");

    // A broken file is refused, and the current certificates keep serving.
    std::fs::write(server.dir.path().join("rotor-key.pem"), "not a key").expect("writing");
    assert!(server.rotor.reload_tls().is_err());
    echo(address, &first_ca.pem(), Some(&client))
        .await
        .expect("still served with the first certificate");

    let second_ca = Authority::new("second server CA");
    let new_client_ca = Authority::new("new client CA");
    write_files(server.dir.path(), &second_ca.server(), &new_client_ca);
    assert_eq!(server.rotor.reload_tls().ok(), Some(true));
    echo(address, &second_ca.pem(), Some(&new_client_ca.client()))
        .await
        .expect("served with the new certificate and client CA");
    let old = echo(address, &first_ca.pem(), Some(&new_client_ca.client())).await;
    assert!(old.is_err(), "the old server certificate is gone: {old:?}");
    let old_client = echo(address, &second_ca.pem(), Some(&client)).await;
    assert!(
        old_client.is_err(),
        "the old client CA is gone: {old_client:?}"
    );
}

#[tokio::test]
async fn sighup_reloads_the_certificates_of_rotor_serve() {
    let first_ca = Authority::new("first server CA");
    let client_ca = Authority::new("client CA");
    let client = client_ca.client();
    let dir = ScratchDir::new();
    write_files(dir.path(), &first_ca.server(), &client_ca);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let address: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let config = format!(
        "listen = \"{address}\"\n[plugins]\ndir = {:?}\n[handlers]\nrpc = \"test-mirror.wasm\"\n{TLS_CONFIG}",
        plugin_dir().display().to_string()
    );
    let path = dir.path().join("rotor.toml");
    std::fs::write(&path, config).expect("writing the config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rotor"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting rotor serve");
    let log = Arc::new(Mutex::new(String::new()));
    {
        let stderr = child.stderr.take().expect("stderr");
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut log) = log.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
    }
    let log = move || log.lock().map(|log| log.clone()).unwrap_or_default();
    let outcome = async {
        let started = Instant::now();
        while echo(address, &first_ca.pem(), Some(&client)).await.is_err() {
            if let Some(status) = child.try_wait().expect("waiting") {
                return Err(format!("rotor exited with {status}"));
            }
            if started.elapsed() > Duration::from_secs(120) {
                return Err("not serving TLS in time".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let second_ca = Authority::new("second server CA");
        write_files(dir.path(), &second_ca.server(), &client_ca);
        let hup = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .expect("sending SIGHUP");
        assert!(hup.success());
        let started = Instant::now();
        while echo(address, &second_ca.pem(), Some(&client))
            .await
            .is_err()
        {
            if started.elapsed() > Duration::from_secs(10) {
                return Err("the new certificate is not served after SIGHUP".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    if let Err(error) = outcome {
        panic!("{error}:\n{}", log());
    }
    assert!(log().contains("TLS certificates reloaded"), "{}", log());
}
