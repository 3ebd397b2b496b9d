//! The SDKs and the WIT contract, compiled into the binary so that `rotor new`
//! can copy them into a project's `rotor-sdk/` folder.
//!
//! Each list names the files of one SDK, relative to the SDK's folder. A test
//! compares the lists with the folders, so a file added to an SDK and not
//! here fails the build's tests rather than a user's first build.

/// One file: its path relative to its folder, and its text.
pub type File = (&'static str, &'static str);

/// The WIT contract (`wit/`).
pub const WIT: &[File] = &[
    ("handlers.wit", include_str!("../../wit/handlers.wit")),
    ("host.wit", include_str!("../../wit/host.wit")),
    ("interceptor.wit", include_str!("../../wit/interceptor.wit")),
    ("types.wit", include_str!("../../wit/types.wit")),
    ("worlds.wit", include_str!("../../wit/worlds.wit")),
];

/// The Rust SDK (`guest-sdk/rust/`).
pub const RUST: &[File] = &[
    (
        "Cargo.toml",
        include_str!("../../guest-sdk/rust/Cargo.toml"),
    ),
    (
        "src/api.rs",
        include_str!("../../guest-sdk/rust/src/api.rs"),
    ),
    (
        "src/bindings.rs",
        include_str!("../../guest-sdk/rust/src/bindings.rs"),
    ),
    (
        "src/config.rs",
        include_str!("../../guest-sdk/rust/src/config.rs"),
    ),
    (
        "src/denial.rs",
        include_str!("../../guest-sdk/rust/src/denial.rs"),
    ),
    (
        "src/export.rs",
        include_str!("../../guest-sdk/rust/src/export.rs"),
    ),
    (
        "src/handlers.rs",
        include_str!("../../guest-sdk/rust/src/handlers.rs"),
    ),
    (
        "src/interceptor.rs",
        include_str!("../../guest-sdk/rust/src/interceptor.rs"),
    ),
    (
        "src/jwt.rs",
        include_str!("../../guest-sdk/rust/src/jwt.rs"),
    ),
    ("src/kv.rs", include_str!("../../guest-sdk/rust/src/kv.rs")),
    (
        "src/lib.rs",
        include_str!("../../guest-sdk/rust/src/lib.rs"),
    ),
    (
        "src/log.rs",
        include_str!("../../guest-sdk/rust/src/log.rs"),
    ),
    (
        "src/records.rs",
        include_str!("../../guest-sdk/rust/src/records.rs"),
    ),
    (
        "src/stream.rs",
        include_str!("../../guest-sdk/rust/src/stream.rs"),
    ),
];

/// The JavaScript and TypeScript SDK (`guest-sdk/js/`), without its tests
/// and lock file: a project resolves the SDK's pinned dependencies itself.
pub const JS: &[File] = &[
    ("README.md", include_str!("../../guest-sdk/js/README.md")),
    (
        "package.json",
        include_str!("../../guest-sdk/js/package.json"),
    ),
    (
        "bin/rotor-build.js",
        include_str!("../../guest-sdk/js/bin/rotor-build.js"),
    ),
    ("src/api.js", include_str!("../../guest-sdk/js/src/api.js")),
    (
        "src/build.js",
        include_str!("../../guest-sdk/js/src/build.js"),
    ),
    (
        "src/config.js",
        include_str!("../../guest-sdk/js/src/config.js"),
    ),
    (
        "src/errors.js",
        include_str!("../../guest-sdk/js/src/errors.js"),
    ),
    (
        "src/index.js",
        include_str!("../../guest-sdk/js/src/index.js"),
    ),
    ("src/jwt.js", include_str!("../../guest-sdk/js/src/jwt.js")),
    ("src/kv.js", include_str!("../../guest-sdk/js/src/kv.js")),
    ("src/log.js", include_str!("../../guest-sdk/js/src/log.js")),
    (
        "src/stream.js",
        include_str!("../../guest-sdk/js/src/stream.js"),
    ),
    (
        "types/api.d.ts",
        include_str!("../../guest-sdk/js/types/api.d.ts"),
    ),
    (
        "types/config.d.ts",
        include_str!("../../guest-sdk/js/types/config.d.ts"),
    ),
    (
        "types/index.d.ts",
        include_str!("../../guest-sdk/js/types/index.d.ts"),
    ),
    (
        "types/jwt.d.ts",
        include_str!("../../guest-sdk/js/types/jwt.d.ts"),
    ),
    (
        "types/kv.d.ts",
        include_str!("../../guest-sdk/js/types/kv.d.ts"),
    ),
    (
        "types/log.d.ts",
        include_str!("../../guest-sdk/js/types/log.d.ts"),
    ),
    (
        "types/stream.d.ts",
        include_str!("../../guest-sdk/js/types/stream.d.ts"),
    ),
    (
        "types/wit/host.d.ts",
        include_str!("../../guest-sdk/js/types/wit/host.d.ts"),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-centrifugo-api.d.ts",
        include_str!(
            "../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-centrifugo-api.d.ts"
        ),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-config.d.ts",
        include_str!("../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-config.d.ts"),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-connect-handler.d.ts",
        include_str!(
            "../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-connect-handler.d.ts"
        ),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-interceptor.d.ts",
        include_str!("../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-interceptor.d.ts"),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-kv.d.ts",
        include_str!("../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-kv.d.ts"),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-log.d.ts",
        include_str!("../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-log.d.ts"),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-map-publish-handler.d.ts",
        include_str!(
            "../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-map-publish-handler.d.ts"
        ),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-map-remove-handler.d.ts",
        include_str!(
            "../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-map-remove-handler.d.ts"
        ),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-notify-cache-empty-handler.d.ts",
        include_str!(
            "../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-notify-cache-empty-handler.d.ts"
        ),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-notify-channel-state-handler.d.ts",
        include_str!(
            "../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-notify-channel-state-handler.d.ts"
        ),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-publish-handler.d.ts",
        include_str!(
            "../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-publish-handler.d.ts"
        ),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-refresh-handler.d.ts",
        include_str!(
            "../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-refresh-handler.d.ts"
        ),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-rpc-handler.d.ts",
        include_str!("../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-rpc-handler.d.ts"),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-shared-poll-refresh-handler.d.ts",
        include_str!(
            "../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-shared-poll-refresh-handler.d.ts"
        ),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-stream-handler.d.ts",
        include_str!(
            "../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-stream-handler.d.ts"
        ),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-stream.d.ts",
        include_str!("../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-stream.d.ts"),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-sub-refresh-handler.d.ts",
        include_str!(
            "../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-sub-refresh-handler.d.ts"
        ),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-subscribe-handler.d.ts",
        include_str!(
            "../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-subscribe-handler.d.ts"
        ),
    ),
    (
        "types/wit/interfaces/rotor-centrifugo-types.d.ts",
        include_str!("../../guest-sdk/js/types/wit/interfaces/rotor-centrifugo-types.d.ts"),
    ),
];

/// The Python SDK (`guest-sdk/python/`), without its tests and packaging:
/// a project runs `rotor_build.py` from its copy.
pub const PYTHON: &[File] = &[
    (
        "README.md",
        include_str!("../../guest-sdk/python/README.md"),
    ),
    (
        "requirements.txt",
        include_str!("../../guest-sdk/python/requirements.txt"),
    ),
    (
        "rotor_build.py",
        include_str!("../../guest-sdk/python/rotor_build.py"),
    ),
    (
        "rotor/__init__.py",
        include_str!("../../guest-sdk/python/rotor/__init__.py"),
    ),
    (
        "rotor/_exports.py",
        include_str!("../../guest-sdk/python/rotor/_exports.py"),
    ),
    (
        "rotor/api.py",
        include_str!("../../guest-sdk/python/rotor/api.py"),
    ),
    (
        "rotor/config.py",
        include_str!("../../guest-sdk/python/rotor/config.py"),
    ),
    (
        "rotor/kv.py",
        include_str!("../../guest-sdk/python/rotor/kv.py"),
    ),
    (
        "rotor/log.py",
        include_str!("../../guest-sdk/python/rotor/log.py"),
    ),
    (
        "rotor/stream.py",
        include_str!("../../guest-sdk/python/rotor/stream.py"),
    ),
];

/// Where the Rust SDK's bindings find the WIT in the repository, and where
/// they find it in a project's copy (`rotor-sdk/wit`).
const REPOSITORY_WIT: &str = r#"path: "../../wit""#;
const PROJECT_WIT: &str = r#"path: "wit""#;

/// The text of a Rust SDK file as a project's copy needs it: the bindings
/// read the WIT from the copy's own `wit/` folder.
pub fn rust_file(path: &str, text: &str) -> String {
    if path == "src/bindings.rs" {
        text.replace(REPOSITORY_WIT, PROJECT_WIT)
    } else {
        text.to_owned()
    }
}

/// The repository's lock file: a Rust project starts from the versions the
/// repository builds and tests its SDK with.
const REPOSITORY_LOCK: &str = include_str!("../../Cargo.lock");

/// A `Cargo.lock` for a project named `name` that depends on the SDK and on
/// `dependencies` (crates the repository's lock has): the repository's
/// entries for everything they need, and nothing else. `None` if the
/// repository's lock cannot be read, in which case Cargo resolves afresh.
pub fn rust_lock(name: &str, dependencies: &[&str]) -> Option<String> {
    let lock: toml::Table = toml::from_str(REPOSITORY_LOCK).ok()?;
    let packages = lock.get("package")?.as_array()?;
    let entry = |wanted: &str| {
        // `name`, `name version` or `name version (source)`.
        let mut words = wanted.split(' ');
        let wanted_name = words.next().unwrap_or_default();
        let wanted_version = words.next();
        packages
            .iter()
            .filter_map(toml::Value::as_table)
            .find(|package| {
                package.get("name").and_then(toml::Value::as_str) == Some(wanted_name)
                    && wanted_version.is_none_or(|version| {
                        package.get("version").and_then(toml::Value::as_str) == Some(version)
                    })
            })
    };
    let mut kept: Vec<&toml::Table> = Vec::new();
    let mut queue: Vec<String> = std::iter::once("rotor-sdk")
        .chain(dependencies.iter().copied())
        .map(str::to_owned)
        .collect();
    while let Some(wanted) = queue.pop() {
        let package = entry(&wanted)?;
        if kept.iter().any(|seen| std::ptr::eq(*seen, package)) {
            continue;
        }
        kept.push(package);
        if let Some(needs) = package.get("dependencies").and_then(toml::Value::as_array) {
            queue.extend(
                needs
                    .iter()
                    .filter_map(toml::Value::as_str)
                    .map(str::to_owned),
            );
        }
    }
    kept.sort_by_key(|package| {
        (
            package.get("name").and_then(toml::Value::as_str),
            package.get("version").and_then(toml::Value::as_str),
        )
    });

    let mut text = String::from(
        "# This file is automatically @generated by Cargo.\n\
         # It is not intended for manual editing.\n\
         version = 4\n",
    );
    let own = lock_entry(name, "0.1.0", None, None, {
        let mut needs: Vec<&str> = std::iter::once("rotor-sdk")
            .chain(dependencies.iter().copied())
            .collect();
        needs.sort_unstable();
        needs
    });
    let mut entries: Vec<(String, String)> = kept
        .iter()
        .map(|package| {
            let field = |key: &str| package.get(key).and_then(toml::Value::as_str);
            let needs = package
                .get("dependencies")
                .and_then(toml::Value::as_array)
                .map(|needs| needs.iter().filter_map(toml::Value::as_str).collect())
                .unwrap_or_default();
            let name = field("name").unwrap_or_default();
            let body = lock_entry(
                name,
                field("version").unwrap_or_default(),
                field("source"),
                field("checksum"),
                needs,
            );
            (name.to_owned(), body)
        })
        .collect();
    entries.push((name.to_owned(), own));
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, body) in entries {
        text.push('\n');
        text.push_str(&body);
    }
    Some(text)
}

/// One `[[package]]` entry of a lock file, in Cargo's layout.
fn lock_entry(
    name: &str,
    version: &str,
    source: Option<&str>,
    checksum: Option<&str>,
    dependencies: Vec<&str>,
) -> String {
    let mut text = format!("[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n");
    if let Some(source) = source {
        text.push_str(&format!("source = \"{source}\"\n"));
    }
    if let Some(checksum) = checksum {
        text.push_str(&format!("checksum = \"{checksum}\"\n"));
    }
    if !dependencies.is_empty() {
        text.push_str("dependencies = [\n");
        for dependency in dependencies {
            text.push_str(&format!(" \"{dependency}\",\n"));
        }
        text.push_str("]\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Every file under `dir`, relative to it, skipping `skipped` names.
    fn files_under(dir: &Path, skipped: &[&str]) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder).expect("reading an SDK folder") {
                let path = entry.expect("an entry").path();
                let relative = path
                    .strip_prefix(dir)
                    .expect("under the folder")
                    .to_string_lossy()
                    .replace('\\', "/");
                let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if skipped.contains(&relative.as_str()) || skipped.contains(&file_name) {
                    continue;
                }
                if path.is_dir() {
                    pending.push(path);
                } else {
                    found.insert(relative);
                }
            }
        }
        found
    }

    fn listed(files: &[File]) -> BTreeSet<String> {
        files.iter().map(|(path, _)| (*path).to_owned()).collect()
    }

    #[test]
    fn the_lists_hold_every_file_of_each_sdk() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(listed(WIT), files_under(&root.join("wit"), &[]));
        assert_eq!(
            listed(RUST),
            files_under(&root.join("guest-sdk/rust"), &["target"])
        );
        assert_eq!(
            listed(JS),
            files_under(
                &root.join("guest-sdk/js"),
                &["node_modules", "test", "package-lock.json"]
            )
        );
        assert_eq!(
            listed(PYTHON),
            files_under(
                &root.join("guest-sdk/python"),
                &["tests", "pyproject.toml", "__pycache__", ".venv"]
            )
        );
    }

    #[test]
    fn the_rust_bindings_read_the_copys_own_wit() {
        let (path, text) = RUST
            .iter()
            .find(|(path, _)| *path == "src/bindings.rs")
            .expect("the bindings are listed");
        assert!(text.contains(REPOSITORY_WIT), "the SDK's WIT path moved");
        let copied = rust_file(path, text);
        assert!(!copied.contains(REPOSITORY_WIT));
        assert_eq!(
            copied.matches(PROJECT_WIT).count(),
            text.matches(REPOSITORY_WIT).count()
        );
        assert_eq!(rust_file("src/lib.rs", "as is"), "as is");
    }

    #[test]
    fn the_lock_holds_what_the_sdk_needs_and_the_project_itself() {
        let lock = rust_lock("my-acl", &["serde_json"]).expect("the repository's lock parses");
        let parsed: toml::Table = toml::from_str(&lock).expect("the lock is TOML");
        let packages = parsed["package"].as_array().expect("packages");
        let names: BTreeSet<&str> = packages
            .iter()
            .map(|package| package["name"].as_str().expect("a name"))
            .collect();
        for needed in ["my-acl", "rotor-sdk", "wit-bindgen", "serde_json"] {
            assert!(names.contains(needed), "{needed} missing from {names:?}");
        }
        // Nothing of the host's.
        for host_only in ["wasmtime", "tokio", "rotor"] {
            assert!(!names.contains(host_only), "{host_only} in {names:?}");
        }
        let own = packages
            .iter()
            .find(|package| package["name"].as_str() == Some("my-acl"))
            .expect("the project's entry");
        assert_eq!(
            own["dependencies"].as_array().map(Vec::len),
            Some(2),
            "{own:?}"
        );
    }
}
