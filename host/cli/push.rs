//! `rotor push`: publishes a component to an OCI registry in the wasm
//! working group's artifact layout, so `oci://` plugin references (and
//! other wasm tools) can pull it.

use std::path::Path;

use anyhow::{Context, Result};
use rotor::config::oci::{OciRef, OciSettings};
use rotor::oci::{OciClient, OciStore};

/// The environment variables that hold the registry's credentials.
pub const USERNAME_ENV: &str = "ROTOR_REGISTRY_USERNAME";
/// See [`USERNAME_ENV`].
pub const PASSWORD_ENV: &str = "ROTOR_REGISTRY_PASSWORD";

/// Checks that `file` is a component, pushes it as `reference` and prints
/// the digest that pins it.
pub async fn run(file: &Path, reference: &str, insecure: bool) -> Result<()> {
    let target = OciRef::parse(reference)?
        .with_context(|| format!("`{reference}` is not an oci:// reference"))?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let component = rotor::oci::component_info(&bytes)
        .with_context(|| format!("{} is not a component Rotor can load", file.display()))?;
    let credentials = match (std::env::var(USERNAME_ENV), std::env::var(PASSWORD_ENV)) {
        (Ok(user), Ok(password)) => Some((user, password)),
        (Err(_), Err(_)) => None,
        _ => anyhow::bail!("set both {USERNAME_ENV} and {PASSWORD_ENV}, or neither"),
    };
    let settings = OciSettings {
        credentials,
        insecure: if insecure {
            vec![target.registry()]
        } else {
            Vec::new()
        },
        ..OciSettings::default()
    };
    let store = OciStore::at(std::env::temp_dir().join("rotor-push"));
    let client = OciClient::new(&settings, store);
    let size = bytes.len();
    let digest = client.push(&target, bytes, component).await?;
    println!("pushed {} ({size} bytes) to {target}", file.display());
    let pinned = reference
        .split_once('@')
        .map_or(reference, |(name, _)| name)
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))
        .map_or(reference, |(name, _)| name);
    println!("digest: {digest}");
    println!("pin it: {pinned}@{digest}");
    Ok(())
}
