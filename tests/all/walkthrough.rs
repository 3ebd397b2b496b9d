//! The README's "Write a plugin in …" sections, run as a newcomer runs them:
//! each from an empty folder outside the repository, with exactly the
//! commands the README shows, read from README.md at test time.
//!
//! How a section is read:
//! - every `sh` block is run, one command at a time (a line ending in `\`
//!   goes on on the next line), with the `rotor` under test first on `PATH`;
//!   `cd DIR` moves to DIR for the commands after it;
//! - a `json` block after a paragraph that ends in "prints:" is the standard
//!   output of the command just before it, compared as JSON;
//! - a block after a paragraph "`PATH`, as `rotor new` writes it:" must be
//!   the text of that file.
//!
//! The sections build real components: Rust needs `cargo` and the
//! `wasm32-wasip2` target, JavaScript needs Node.js and npm, Python needs
//! Python 3 with `venv`, and the JS and Python builds download their tools.
//! A section whose tools are missing is skipped with a notice, unless
//! `ROTOR_REQUIRE_GUESTS` is set (CI sets it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::ScratchDir;

/// How long one command may run: a first build downloads and compiles.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// One fenced block of a section, with the paragraph just before it.
#[derive(Debug)]
struct Block {
    language: String,
    text: String,
    lead: String,
}

/// The fenced blocks of the section whose heading is `heading`, up to the
/// next heading of the same or a higher level.
fn section(readme: &str, heading: &str) -> Vec<Block> {
    let mut lines = readme.lines();
    let level = lines
        .by_ref()
        .find_map(|line| {
            let hashes = line.chars().take_while(|c| *c == '#').count();
            (hashes > 0 && line[hashes..].trim() == heading).then_some(hashes)
        })
        .unwrap_or_else(|| panic!("README.md has no section `{heading}`"));
    let mut blocks = Vec::new();
    // The paragraph being read, and the last one that ended.
    let mut paragraph: Vec<&str> = Vec::new();
    let mut lead = String::new();
    while let Some(line) = lines.next() {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes > 0 && hashes <= level && line[hashes..].starts_with(' ') {
            break;
        }
        if let Some(language) = line.strip_prefix("```") {
            let text: Vec<&str> = lines
                .by_ref()
                .take_while(|line| !line.starts_with("```"))
                .collect();
            if !paragraph.is_empty() {
                lead = paragraph.join(" ");
            }
            blocks.push(Block {
                language: language.trim().to_owned(),
                text: text.join("\n") + "\n",
                lead: std::mem::take(&mut lead),
            });
            paragraph.clear();
        } else if line.trim().is_empty() {
            if !paragraph.is_empty() {
                lead = paragraph.join(" ");
                paragraph.clear();
            }
        } else {
            paragraph.push(line.trim());
        }
    }
    blocks
}

/// The commands of a `sh` block: continuation lines joined, blank and
/// comment lines dropped.
fn commands(block: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in block.lines() {
        if current.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => {
                current.push_str(start);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    assert!(current.is_empty(), "a command ends in `\\`: {current}");
    commands
}

/// What a command printed.
pub struct Ran {
    /// Whether it exited 0.
    pub ok: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// How long it took.
    pub took: Duration,
}

/// A folder with the `rotor` under test in it, to put on `PATH`. The binary
/// is linked (or copied) there when the test starts, so a build that
/// replaces it in the target folder meanwhile does not change the test's.
pub struct RotorOnPath(ScratchDir);

impl RotorOnPath {
    /// The folder, with `rotor` in it.
    pub fn new() -> RotorOnPath {
        let dir = ScratchDir::new();
        let rotor = Path::new(env!("CARGO_BIN_EXE_rotor"));
        let linked = dir
            .path()
            .join(rotor.file_name().expect("the binary's name"));
        if std::fs::hard_link(rotor, &linked).is_err() {
            std::fs::copy(rotor, &linked).expect("copying the rotor binary");
        }
        RotorOnPath(dir)
    }
}

/// Runs `command` with `sh` in `dir`, with the `rotor` of `bin` first on
/// `PATH` and none of the variables cargo sets for tests, so it runs as a
/// user's shell would run it.
pub fn run_as_user(command: &str, dir: &Path, bin: &RotorOnPath) -> Ran {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(bin.0.path().to_path_buf()).chain(std::env::split_paths(&path)),
    )
    .expect("a PATH");
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_") && name != "CARGO_HOME" || name == "RUSTUP_TOOLCHAIN" {
            shell.env_remove(name.as_ref());
        }
    }
    let started = Instant::now();
    let mut child = shell.spawn().expect("running sh");
    // Read the pipes on threads so a chatty command never blocks on them.
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let (stdout, stderr) = (read(Box::new(stdout)), read(Box::new(stderr)));
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for sh") {
            break status;
        }
        if started.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{command}` ran for more than {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ran {
        ok: status.success(),
        stdout: stdout.join().expect("reading stdout"),
        stderr: stderr.join().expect("reading stderr"),
        took: started.elapsed(),
    }
}

/// Whether every program in `programs` runs (`--version` exits 0); if not,
/// fails when the guests are required and otherwise says what is skipped.
pub fn tools_present(what: &str, programs: &[&[&str]]) -> bool {
    let missing: Vec<String> = programs
        .iter()
        .filter(|argv| {
            !Command::new(argv[0])
                .args(&argv[1..])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .map(|argv| argv.join(" "))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!("{what} needs `{}` to work", missing.join("`, `"));
    assert!(
        std::env::var_os("ROTOR_REQUIRE_GUESTS").is_none(),
        "{message} (ROTOR_REQUIRE_GUESTS is set)"
    );
    eprintln!("skipping: {message}");
    false
}

/// Runs the README section `heading` in a new empty folder outside the
/// repository and checks every answer and file it shows.
fn walk(heading: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("reading README.md");
    let blocks = section(&readme, heading);
    let bin = RotorOnPath::new();
    let scratch = ScratchDir::new();
    let mut dir: PathBuf = scratch.path().to_path_buf();
    let outside = std::fs::canonicalize(&dir).expect("the scratch folder");
    assert!(
        !outside.starts_with(std::fs::canonicalize(root).expect("the repository")),
        "{} is inside the repository",
        outside.display()
    );

    let mut last: Option<(String, Ran)> = None;
    let (mut ran, mut compared_output, mut compared_files) = (0, 0, 0);
    for block in &blocks {
        match block.language.as_str() {
            "sh" => {
                for command in commands(&block.text) {
                    if let Some(target) = command.strip_prefix("cd ") {
                        dir = dir.join(target.trim());
                        continue;
                    }
                    let done = run_as_user(&command, &dir, &bin);
                    eprintln!("{heading}: `{command}` took {:.1?}", done.took);
                    assert!(
                        done.ok,
                        "{heading}: `{command}` failed\nstdout:\n{}\nstderr:\n{}",
                        done.stdout, done.stderr
                    );
                    ran += 1;
                    last = Some((command, done));
                }
            }
            "json" if block.lead.ends_with("prints:") => {
                let (command, done) = last.as_ref().expect("a command before its output");
                let shown: serde_json::Value =
                    serde_json::from_str(&block.text).unwrap_or_else(|error| {
                        panic!("{heading}: the README's output is not JSON: {error}")
                    });
                let printed: serde_json::Value =
                    serde_json::from_str(&done.stdout).unwrap_or_else(|error| {
                        panic!(
                            "{heading}: `{command}` printed no JSON ({error}):\n{}",
                            done.stdout
                        )
                    });
                assert_eq!(
                    printed, shown,
                    "{heading}: `{command}` prints what the README does not show"
                );
                compared_output += 1;
            }
            _ => {
                if let Some(path) = block
                    .lead
                    .strip_suffix(", as `rotor new` writes it:")
                    .and_then(|lead| lead.strip_prefix('`'))
                    .and_then(|lead| lead.strip_suffix('`'))
                {
                    let written = std::fs::read_to_string(scratch.path().join(path))
                        .unwrap_or_else(|error| panic!("{heading}: reading {path}: {error}"));
                    assert_eq!(
                        written, block.text,
                        "{heading}: {path} is not what the README shows"
                    );
                    compared_files += 1;
                }
            }
        }
    }
    // A section that lost its commands, answer or file would pass silently.
    assert!(ran >= 3, "{heading}: only {ran} commands");
    assert!(compared_output >= 1, "{heading}: shows no answer to check");
    assert!(compared_files >= 1, "{heading}: shows no file to check");
}

#[test]
fn rust() {
    if tools_present(
        "the Rust walkthrough",
        &[&["cargo", "--version"], &["rustup", "--version"]],
    ) {
        walk("Write a plugin in Rust");
    }
}

#[test]
fn javascript_and_typescript() {
    if tools_present(
        "the JavaScript walkthrough",
        &[&["node", "--version"], &["npm", "--version"]],
    ) {
        walk("Write a plugin in JavaScript or TypeScript");
    }
}

#[test]
fn python() {
    if tools_present(
        "the Python walkthrough",
        &[&["python3", "-m", "venv", "--help"]],
    ) {
        walk("Write a plugin in Python");
    }
}

#[test]
fn sections_are_read_as_documented() {
    let readme = "# Top\n\n## Write a plugin in X\n\nRun:\n\n```sh\nrotor new a \\\n    --lang x b  # go\n# a comment\n\ncd b\n```\n\nThe last command prints:\n\n```json\n{\"a\": 1}\n```\n\n`b/c.x`, as `rotor new` writes it:\n\n```x\nbody\n```\n\n## Next\n\n```sh\nnot this\n```\n";
    let blocks = section(readme, "Write a plugin in X");
    assert_eq!(blocks.len(), 3, "{blocks:?}");
    assert_eq!(
        commands(&blocks[0].text),
        vec!["rotor new a      --lang x b  # go", "cd b"]
    );
    assert_eq!(blocks[1].lead, "The last command prints:");
    assert_eq!(blocks[2].lead, "`b/c.x`, as `rotor new` writes it:");
    assert_eq!(blocks[2].text, "body\n");
}
