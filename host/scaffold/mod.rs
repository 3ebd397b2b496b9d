//! `rotor new`: a plugin project from templates compiled into the binary.
//!
//! A project builds on its own, outside Rotor's repository: `rotor new`
//! copies its language's SDK and the WIT contract into `rotor-sdk/`, so no
//! path points back into the repository. Each project has the plugin source
//! of the kind asked for, a one-line `build.sh`, a README, and what its
//! language's tools need (a size-tuned release profile and a `Cargo.lock`
//! for Rust, a `package.json` for JavaScript and TypeScript).

mod sdk;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::contract::kind::RequestKind;

/// The language of a new project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Rust, with the Rust SDK (`cargo`, the `wasm32-wasip2` target).
    Rust,
    /// JavaScript, with the JS SDK (Node.js 18+, componentize-js).
    JavaScript,
    /// TypeScript, with the JS SDK; type-checked before each build.
    TypeScript,
    /// Python, with the Python SDK (Python 3.11+, componentize-py).
    Python,
}

impl Language {
    /// Every language, in the order `--help` lists them.
    pub const ALL: [Language; 4] = [
        Language::Rust,
        Language::JavaScript,
        Language::TypeScript,
        Language::Python,
    ];

    /// The name `--lang` takes.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::JavaScript => "js",
            Language::TypeScript => "ts",
            Language::Python => "python",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::JavaScript => "JavaScript",
            Language::TypeScript => "TypeScript",
            Language::Python => "Python",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Language {
    type Err = String;

    fn from_str(text: &str) -> Result<Language, String> {
        match text {
            "rust" | "rs" => Ok(Language::Rust),
            "js" | "javascript" => Ok(Language::JavaScript),
            "ts" | "typescript" => Ok(Language::TypeScript),
            "python" | "py" => Ok(Language::Python),
            _ => Err(format!(
                "unknown language `{text}` (one of: rust, js, ts, python)"
            )),
        }
    }
}

/// What a new plugin is: a handler of one request kind, or an interceptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// Answers calls of this kind.
    Handler(RequestKind),
    /// Sits in front of handlers, for every kind.
    Interceptor,
}

impl Template {
    /// Every template, in the order `--help` lists them.
    pub const ALL: [Template; 8] = [
        Template::Handler(RequestKind::Connect),
        Template::Handler(RequestKind::Refresh),
        Template::Handler(RequestKind::Subscribe),
        Template::Handler(RequestKind::Publish),
        Template::Handler(RequestKind::Rpc),
        Template::Handler(RequestKind::SubRefresh),
        Template::Handler(RequestKind::SubscribeStream),
        Template::Interceptor,
    ];

    /// The name `rotor new` takes: a request kind, or `interceptor`.
    pub fn name(self) -> &'static str {
        match self {
            Template::Handler(kind) => kind.name(),
            Template::Interceptor => "interceptor",
        }
    }

    /// What the template's plugin does, in one sentence.
    fn about(self) -> &'static str {
        match self {
            Template::Handler(RequestKind::Connect) => {
                "a connect handler that accepts the user a gateway names in the `x-user-id` header."
            }
            Template::Handler(RequestKind::Refresh) => {
                "a refresh handler that extends each connection by `extend_seconds` (one hour)."
            }
            Template::Handler(RequestKind::Subscribe) => {
                "a subscribe handler that lets users into their own channel, `user:<id>`, only."
            }
            Template::Handler(RequestKind::Publish) => {
                "a publish handler that accepts JSON objects with a `text` of 1 to 1000 bytes."
            }
            Template::Handler(RequestKind::Rpc) => {
                "an RPC handler whose method `hello` greets the caller."
            }
            Template::Handler(RequestKind::SubRefresh) => {
                "a sub-refresh handler that extends each subscription by `extend_seconds` (one hour)."
            }
            Template::Handler(RequestKind::SubscribeStream) => {
                "a subscription stream that sends `{\"count\":N}` every second and echoes what the client publishes."
            }
            Template::Interceptor => {
                "an interceptor that refuses publish and RPC calls of anonymous users."
            }
            // Kinds without a template: `Template::ALL` does not list them,
            // so `rotor new` never offers them.
            Template::Handler(_) => "a handler.",
        }
    }

    /// The arguments of `rotor call` that try the template's plugin with a
    /// request it accepts; `None` for an interceptor, which needs a handler
    /// behind it.
    fn sample(self) -> Option<&'static str> {
        match self {
            Template::Handler(RequestKind::Connect) => Some("--header x-user-id=42"),
            Template::Handler(RequestKind::Refresh) => Some(r#"--request '{"user":"42"}'"#),
            Template::Handler(RequestKind::Subscribe | RequestKind::SubRefresh) => {
                Some(r#"--request '{"user":"42","channel":"user:42"}'"#)
            }
            Template::Handler(RequestKind::Publish) => {
                Some(r#"--request '{"user":"42","channel":"chat","data":{"text":"hi"}}'"#)
            }
            Template::Handler(RequestKind::Rpc) => {
                Some(r#"--request '{"user":"42","method":"hello"}'"#)
            }
            Template::Handler(RequestKind::SubscribeStream) => {
                Some(r#"--stream --for 3s --request '{"user":"42","channel":"ticks:a"}'"#)
            }
            // Kinds without a template (see `about`).
            Template::Handler(_) | Template::Interceptor => None,
        }
    }

    /// How a Rotor config routes calls to the plugin `file`.
    fn route(self, file: &str) -> String {
        match self {
            Template::Handler(kind) => format!("[handlers]\n{kind} = \"{file}\""),
            Template::Interceptor => {
                format!("[interceptors]\n\"*\" = [\"{file}\"]   # in front of every handler")
            }
        }
    }

    /// The plugin source for `language`.
    fn source(self, language: Language) -> &'static str {
        let index = Template::ALL
            .iter()
            .position(|template| *template == self)
            .unwrap_or_default();
        match language {
            Language::Rust => RUST_SOURCES[index],
            Language::JavaScript => JS_SOURCES[index],
            Language::TypeScript => TS_SOURCES[index],
            Language::Python => PYTHON_SOURCES[index],
        }
    }

    /// Crates its Rust source uses besides the SDK.
    fn rust_dependencies(self) -> &'static [&'static str] {
        match self {
            Template::Handler(
                RequestKind::Publish | RequestKind::Rpc | RequestKind::SubscribeStream,
            ) => &["serde_json"],
            _ => &[],
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Template {
    type Err = String;

    fn from_str(text: &str) -> Result<Template, String> {
        let wanted = text.replace('-', "_");
        Template::ALL
            .into_iter()
            .find(|template| template.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Template::ALL.iter().map(|t| t.name()).collect();
                format!(
                    "unknown plugin kind `{text}` (one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// Plugin sources, in the order of [`Template::ALL`].
const RUST_SOURCES: [&str; 8] = [
    include_str!("templates/rust/connect.rs"),
    include_str!("templates/rust/refresh.rs"),
    include_str!("templates/rust/subscribe.rs"),
    include_str!("templates/rust/publish.rs"),
    include_str!("templates/rust/rpc.rs"),
    include_str!("templates/rust/sub_refresh.rs"),
    include_str!("templates/rust/subscribe_stream.rs"),
    include_str!("templates/rust/interceptor.rs"),
];
const JS_SOURCES: [&str; 8] = [
    include_str!("templates/js/connect.js"),
    include_str!("templates/js/refresh.js"),
    include_str!("templates/js/subscribe.js"),
    include_str!("templates/js/publish.js"),
    include_str!("templates/js/rpc.js"),
    include_str!("templates/js/sub_refresh.js"),
    include_str!("templates/js/subscribe_stream.js"),
    include_str!("templates/js/interceptor.js"),
];
const TS_SOURCES: [&str; 8] = [
    include_str!("templates/ts/connect.ts"),
    include_str!("templates/ts/refresh.ts"),
    include_str!("templates/ts/subscribe.ts"),
    include_str!("templates/ts/publish.ts"),
    include_str!("templates/ts/rpc.ts"),
    include_str!("templates/ts/sub_refresh.ts"),
    include_str!("templates/ts/subscribe_stream.ts"),
    include_str!("templates/ts/interceptor.ts"),
];
const PYTHON_SOURCES: [&str; 8] = [
    include_str!("templates/python/connect.py"),
    include_str!("templates/python/refresh.py"),
    include_str!("templates/python/subscribe.py"),
    include_str!("templates/python/publish.py"),
    include_str!("templates/python/rpc.py"),
    include_str!("templates/python/sub_refresh.py"),
    include_str!("templates/python/subscribe_stream.py"),
    include_str!("templates/python/interceptor.py"),
];

const README: &str = include_str!("templates/common/README.md");
const RUST_MANIFEST: &str = include_str!("templates/rust/Cargo.toml");
const RUST_BUILD: &str = include_str!("templates/rust/build.sh");
const RUST_IGNORE: &str = include_str!("templates/rust/gitignore");
const JS_PACKAGE: &str = include_str!("templates/js/package.json");
const JS_BUILD: &str = include_str!("templates/js/build.sh");
const JS_IGNORE: &str = include_str!("templates/js/gitignore");
const TS_CONFIG: &str = include_str!("templates/js/tsconfig.json");
const PYTHON_BUILD: &str = include_str!("templates/python/build.sh");
const PYTHON_IGNORE: &str = include_str!("templates/python/gitignore");

/// Why a project could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The folder holds files already; `rotor new` never overwrites.
    #[error("{} is not empty: name a new folder", .0.display())]
    NotEmpty(PathBuf),
    /// The folder's name cannot name a plugin.
    #[error("`{0}` cannot name a plugin: use letters, digits, `-` and `_`, starting with a letter")]
    BadName(String),
    /// A file or folder could not be written.
    #[error("cannot write {}: {error}", .path.display())]
    Write {
        /// What could not be written.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
}

/// A project `rotor new` wrote.
#[derive(Debug)]
pub struct Project {
    /// Its folder.
    pub dir: PathBuf,
    /// Its name: the folder's, and its component's (`<name>.wasm`).
    pub name: String,
    /// The files written, relative to `dir`, the plugin source first.
    pub files: Vec<String>,
    /// The command that builds it, run from where `rotor new` ran.
    pub build: String,
    /// A command that runs it once, run from where `rotor new` ran.
    pub try_it: String,
}

/// Writes a new `template` project in `language` into `dir`, which must not
/// exist or be empty. The project is named after the folder.
pub fn create(
    template: Template,
    language: Language,
    dir: &Path,
) -> Result<Project, ScaffoldError> {
    let name = dir
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default()
        .to_owned();
    if !valid_name(&name) {
        return Err(ScaffoldError::BadName(name));
    }
    if let Ok(mut entries) = std::fs::read_dir(dir)
        && entries.next().is_some()
    {
        return Err(ScaffoldError::NotEmpty(dir.to_owned()));
    }
    let files = files(template, language, &name);
    for (path, text) in &files {
        write(&dir.join(path), text, path.ends_with(".sh"))?;
    }
    let shown = shell_word(&dir.display().to_string());
    Ok(Project {
        dir: dir.to_owned(),
        files: files.into_iter().map(|(path, _)| path).collect(),
        build: format!("{shown}/build.sh"),
        try_it: try_command(template, &format!("{shown}/{name}.wasm")),
        name,
    })
}

/// Whether `name` can name a crate, an npm package and a component file.
fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The command that tries the component at `wasm`.
fn try_command(template: Template, wasm: &str) -> String {
    match template.sample() {
        Some(arguments) => format!("rotor call {template} --plugin {wasm} {arguments}"),
        None => format!("rotor check {wasm}"),
    }
}

/// Every file of the project, relative to its folder: the plugin source
/// first, then the project's own files, then the SDK's copy.
fn files(template: Template, language: Language, name: &str) -> Vec<(String, String)> {
    let crate_name = name.replace('-', "_");
    let source_path = match language {
        Language::Rust => "src/lib.rs",
        Language::JavaScript => "plugin.js",
        Language::TypeScript => "plugin.ts",
        Language::Python => "plugin.py",
    };
    let build_script = match language {
        Language::TypeScript => format!("tsc -p . && rotor-build plugin.ts -o {name}.wasm"),
        _ => format!("rotor-build plugin.js -o {name}.wasm"),
    };
    let dependencies: String = template
        .rust_dependencies()
        .iter()
        .map(|dependency| format!("{dependency} = \"1\"\n"))
        .collect();
    let vars = [
        ("name", name),
        ("crate", crate_name.as_str()),
        ("dependencies", dependencies.as_str()),
        ("build_script", build_script.as_str()),
    ];

    let mut files = vec![(source_path.to_owned(), template.source(language).to_owned())];
    let mut add = |path: &str, text: &str| files.push((path.to_owned(), render(text, &vars)));
    match language {
        Language::Rust => {
            add("Cargo.toml", RUST_MANIFEST);
            add("build.sh", RUST_BUILD);
            add(".gitignore", RUST_IGNORE);
            if let Some(lock) = sdk::rust_lock(name, template.rust_dependencies()) {
                add("Cargo.lock", &lock);
            }
        }
        Language::JavaScript | Language::TypeScript => {
            add("package.json", JS_PACKAGE);
            add("build.sh", JS_BUILD);
            add(".gitignore", JS_IGNORE);
            if language == Language::TypeScript {
                add("tsconfig.json", TS_CONFIG);
            }
        }
        Language::Python => {
            add("build.sh", PYTHON_BUILD);
            add(".gitignore", PYTHON_IGNORE);
        }
    }
    add("README.md", &readme(template, language, name, source_path));

    let sdk_files = match language {
        Language::Rust => sdk::RUST,
        Language::JavaScript | Language::TypeScript => sdk::JS,
        Language::Python => sdk::PYTHON,
    };
    for (path, text) in sdk_files {
        let text = match language {
            Language::Rust => sdk::rust_file(path, text),
            _ => (*text).to_owned(),
        };
        files.push((format!("rotor-sdk/{path}"), text));
    }
    for (path, text) in sdk::WIT {
        files.push((format!("rotor-sdk/wit/{path}"), (*text).to_owned()));
    }
    files
}

/// The project's README.
fn readme(template: Template, language: Language, name: &str, source: &str) -> String {
    let wasm = format!("{name}.wasm");
    let build_notes = match language {
        Language::Rust => {
            "The release profile in `Cargo.toml` keeps it small (tens of kilobytes). \
             `cargo test` runs unit tests natively, where there is no host: settings \
             read as unset and log lines go to stderr, so keep decisions in plain \
             functions and test those."
        }
        Language::JavaScript | Language::TypeScript => {
            "The first build installs the SDK's npm packages (esbuild, componentize-js); \
             `npm run build` does the same as the script afterwards. The component is \
             about 12 MB: it carries its JavaScript engine."
        }
        Language::Python => {
            "The first build installs componentize-py, pinned, into `.venv`; it needs \
             Python 3.11 or later. The component is about 18 MB: it carries its \
             Python interpreter."
        }
    };
    let try_notes = match template {
        Template::Handler(RequestKind::SubscribeStream) => {
            "`rotor call --stream` opens a stream on the component and prints the \
             subscribe reply, then each publication, as JSON lines, for `--for` or \
             until Ctrl-C; with `--bidirectional`, each line you type is sent as the \
             client's publication."
        }
        Template::Handler(_) => {
            "`rotor call` runs one call through the component and prints the reply \
             as JSON. The request is in the JSON shape of Centrifugo's HTTP proxy, \
             where payloads are embedded as JSON."
        }
        Template::Interceptor => {
            "`rotor check` compiles the component and shows what it exports. An \
             interceptor runs in front of a handler, so try it in a Rotor config."
        }
    };
    let source_note = match language {
        Language::Rust => {
            "the plugin: implement the SDK's trait for the kind, and name the type in its export macro"
        }
        Language::JavaScript | Language::TypeScript => {
            "the plugin: its named exports (`connect`, `rpc`, …, `subscribeStream`, `before`/`after`) are its handlers"
        }
        Language::Python => {
            "the plugin: one decorated function per kind (`@rotor.rpc`, …, `@rotor.before`), or a decorated class for a stream (`@rotor.subscribe_stream`)"
        }
    };
    let mut files = vec![
        format!("- `{source}`: {source_note}."),
        "- `build.sh`: builds the component.".to_owned(),
    ];
    match language {
        Language::Rust => files.push(
            "- `Cargo.toml`: the crate, a `cdylib`, with a release profile for small components."
                .to_owned(),
        ),
        Language::JavaScript | Language::TypeScript => files.push(
            "- `package.json`: the build script and the SDK, installed from `rotor-sdk/`."
                .to_owned(),
        ),
        Language::Python => {}
    }
    files.push(
        "- `rotor-sdk/`: a copy of Rotor's SDK for the language and of its WIT contract, \
         written by `rotor new` so the project needs nothing else from Rotor."
            .to_owned(),
    );
    render(
        README,
        &[
            ("name", name),
            ("language", language.title()),
            ("about", template.about()),
            ("build_notes", build_notes),
            ("try", &try_command(template, &wasm)),
            ("try_notes", try_notes),
            ("route", &template.route(&wasm)),
            ("files", &files.join("\n")),
        ],
    )
}

/// `text` with each `{{key}}` replaced by its value.
fn render(text: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(text.to_owned(), |text, (key, value)| {
        text.replace(&format!("{{{{{key}}}}}"), value)
    })
}

/// `word` as one shell word: as it is when it needs no quoting.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Writes `text` to `path`, creating its folder; executable if asked.
fn write(path: &Path, text: &str, executable: bool) -> Result<(), ScaffoldError> {
    let failed = |error| ScaffoldError::Write {
        path: path.to_owned(),
        error,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    std::fs::write(path, text).map_err(failed)?;
    #[cfg(unix)]
    if executable {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(failed)?;
    }
    #[cfg(not(unix))]
    let _ = executable;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_both_ways() {
        for template in Template::ALL {
            assert_eq!(template.name().parse::<Template>(), Ok(template));
        }
        assert_eq!(
            "sub-refresh".parse::<Template>(),
            Ok(Template::Handler(RequestKind::SubRefresh))
        );
        assert!(
            "hook"
                .parse::<Template>()
                .is_err_and(|error| error.contains("interceptor"))
        );
        for language in Language::ALL {
            assert_eq!(language.name().parse::<Language>(), Ok(language));
        }
        assert!(
            "go".parse::<Language>()
                .is_err_and(|error| error.contains("rust, js, ts, python"))
        );
    }

    #[test]
    fn every_project_renders_every_placeholder_and_points_nowhere_outside() {
        for template in Template::ALL {
            for language in Language::ALL {
                let files = files(template, language, "my-plugin");
                for (path, text) in &files {
                    let own = !path.starts_with("rotor-sdk/");
                    if own {
                        assert!(
                            !text.contains("{{"),
                            "{template} {language}: {path} keeps a placeholder"
                        );
                    }
                    // Nothing the project needs lies outside it.
                    assert!(
                        !text.contains("../guest-sdk") && !text.contains("\"../../wit\""),
                        "{template} {language}: {path} points into the repository"
                    );
                }
                let build = &files
                    .iter()
                    .find(|(path, _)| path == "build.sh")
                    .expect("a build script")
                    .1;
                // A shebang, a comment, and the one line that builds.
                assert_eq!(build.lines().count(), 3, "{build}");
                assert!(build.contains("my-plugin.wasm"), "{build}");
            }
        }
    }

    #[test]
    fn a_rust_project_is_a_workspace_of_its_own_with_a_small_release_profile() {
        let files = files(
            Template::Handler(RequestKind::Rpc),
            Language::Rust,
            "my-rpc",
        );
        let manifest: toml::Table = toml::from_str(
            &files
                .iter()
                .find(|(path, _)| path == "Cargo.toml")
                .expect("a manifest")
                .1,
        )
        .expect("the manifest is TOML");
        assert!(manifest.contains_key("workspace"));
        assert_eq!(manifest["package"]["name"].as_str(), Some("my-rpc"));
        assert_eq!(
            manifest["dependencies"]["rotor-sdk"]["path"].as_str(),
            Some("rotor-sdk")
        );
        assert!(manifest["dependencies"].get("serde_json").is_some());
        let release = &manifest["profile"]["release"];
        assert_eq!(release["opt-level"].as_str(), Some("s"));
        assert_eq!(release["lto"].as_bool(), Some(true));
        assert_eq!(release["panic"].as_str(), Some("abort"));
        assert!(files.iter().any(|(path, _)| path == "Cargo.lock"));
        assert!(
            files
                .iter()
                .any(|(path, _)| path == "rotor-sdk/wit/types.wit")
        );
    }

    #[test]
    fn create_writes_the_project_and_refuses_to_overwrite() {
        let dir = std::env::temp_dir().join(format!("rotor-scaffold-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let project = dir.join("my-acl");
        let written = create(
            Template::Handler(RequestKind::Subscribe),
            Language::Python,
            &project,
        )
        .expect("a new project");
        assert_eq!(written.name, "my-acl");
        assert_eq!(written.files[0], "plugin.py");
        assert!(project.join("rotor-sdk/rotor_build.py").is_file());
        assert!(project.join("rotor-sdk/wit/worlds.wit").is_file());
        assert!(written.try_it.starts_with("rotor call subscribe --plugin "));
        assert!(written.try_it.contains("my-acl/my-acl.wasm"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(project.join("build.sh"))
                .expect("the build script")
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0o111, "build.sh is executable");
        }

        let again = create(Template::Interceptor, Language::Rust, &project);
        assert!(
            matches!(again, Err(ScaffoldError::NotEmpty(_))),
            "{again:?}"
        );
        let bad = create(Template::Interceptor, Language::Rust, &dir.join("9lives"));
        assert!(matches!(bad, Err(ScaffoldError::BadName(_))), "{bad:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn interceptors_are_tried_with_check() {
        assert_eq!(
            try_command(Template::Interceptor, "g/g.wasm"),
            "rotor check g/g.wasm"
        );
        assert_eq!(shell_word("my dir"), "'my dir'");
        assert_eq!(shell_word("a/b-c_d.e"), "a/b-c_d.e");
    }
}
