//! Generates the gRPC code for Centrifugo's proxy and server API services
//! from `proto/`, with a pure-Rust protobuf compiler (no system `protoc`).
//!
//! The proxy messages also derive serde in the shape of Centrifugo's HTTP
//! proxy JSON (payload fields embedded as raw JSON), which is what
//! `rotor call` reads and prints.

use prost_types::field_descriptor_proto::{Label, Type};

const PROTOS: [&str; 2] = ["proto/proxy.proto", "proto/api.proto"];
const PROXY_PACKAGE: &str = "centrifugal.centrifugo.proxy";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    // The descriptors, for gRPC reflection (`grpcurl list` and the like).
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("rotor_descriptors.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;

    let mut builder = tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // The transport constructor `connect` would clash with the proxy's
        // `Connect` rpc; clients are built from a `Channel` instead.
        .build_transport(false)
        // Answer rpcs a server does not implement with `UNIMPLEMENTED`; the
        // test double of Centrifugo's API relies on it.
        .generate_default_stubs(true)
        .message_attribute(
            format!(".{PROXY_PACKAGE}"),
            // Unknown fields are errors: a misspelt one would otherwise
            // vanish silently from `rotor call` requests and canaries.
            "#[derive(serde::Serialize, serde::Deserialize)] #[serde(default, deny_unknown_fields)]",
        );
    for path in proxy_payload_fields(&descriptors) {
        builder = builder.field_attribute(
            path,
            "#[serde(with = \"crate::json_bytes\", skip_serializing_if = \"Vec::is_empty\")]",
        );
    }
    builder.compile_fds(descriptors)?;
    Ok(())
}

/// Paths of the single `bytes` fields of the proxy messages: payloads that
/// Centrifugo's JSON embeds as raw JSON values.
fn proxy_payload_fields(set: &prost_types::FileDescriptorSet) -> Vec<String> {
    let mut paths = Vec::new();
    for file in set.file.iter().filter(|f| f.package() == PROXY_PACKAGE) {
        for message in &file.message_type {
            for field in &message.field {
                if field.r#type() == Type::Bytes && field.label() != Label::Repeated {
                    paths.push(format!(
                        ".{PROXY_PACKAGE}.{}.{}",
                        message.name(),
                        field.name()
                    ));
                }
            }
        }
    }
    paths
}
