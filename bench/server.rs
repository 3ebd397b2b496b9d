//! The systems under test, each started as a child process on a loopback
//! port: Rotor as `rotor serve`, the native baseline as this benchmark
//! binary in server mode, the Python backend as `bench/python/server.py`.
//! One system runs at a time; its peak resident memory is read from the
//! kernel (`VmHWM`) before it is stopped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::load;
use crate::python::PythonEnv;
use crate::scenario::{Call, Outcome, SECRET, Scenario};

/// How long a system may take to answer its first call: Rotor compiles its
/// components first, Python generates its stubs.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The language a Rotor plugin is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guest {
    /// The Rust SDK: small components (about 100 KiB).
    Rust,
    /// The JavaScript SDK (componentize-js): about 12 MB.
    Js,
    /// The Python SDK (componentize-py): about 18 MB.
    Python,
    /// The Go SDK (Go's own wasip1 port): about 3 MB.
    Go,
    /// The C SDK (clang and wasi-libc): about 60 KiB.
    C,
}

impl Guest {
    /// The RPC router in this language, as a file in `plugins/dist`. All
    /// of them answer `echo` with the call's data.
    pub fn rpc_router(self) -> &'static str {
        match self {
            Guest::Rust => "rpc-router.wasm",
            Guest::Js => "js-rpc-router.wasm",
            Guest::Python => "py-rpc-router.wasm",
            Guest::Go => "go-rpc-router.wasm",
            Guest::C => "c-rpc-router.wasm",
        }
    }

    /// The language for `scripts/build-guest-examples` (none for Rust).
    pub fn build_language(self) -> Option<&'static str> {
        match self {
            Guest::Rust => None,
            Guest::Js => Some("js"),
            Guest::Python => Some("python"),
            Guest::Go => Some("go"),
            Guest::C => Some("c"),
        }
    }
}

/// How Rotor isolates calls: its `[isolation]` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// A fresh instance per call and per interceptor step (the default).
    Fresh,
    /// Warm instances reused within the tenant (`mode = "reuse"`).
    Reuse,
}

/// A system the benchmark compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// Rotor with wasm components in one language and isolation mode.
    Rotor(Guest, Isolation),
    /// The same logic in plain Rust on the same tonic stack.
    Native,
    /// The same logic in Python on grpcio.
    Python,
}

impl System {
    /// Rotor as deployed by default: Rust plugins, a fresh instance per call.
    pub const ROTOR: System = System::Rotor(Guest::Rust, Isolation::Fresh);

    /// Every system, in the order they run: Rotor as deployed by default
    /// first, since it sets the fixed rate.
    pub const ALL: [System; 12] = [
        System::ROTOR,
        System::Rotor(Guest::Rust, Isolation::Reuse),
        System::Rotor(Guest::Js, Isolation::Fresh),
        System::Rotor(Guest::Js, Isolation::Reuse),
        System::Rotor(Guest::Python, Isolation::Fresh),
        System::Rotor(Guest::Python, Isolation::Reuse),
        System::Rotor(Guest::Go, Isolation::Fresh),
        System::Rotor(Guest::Go, Isolation::Reuse),
        System::Rotor(Guest::C, Isolation::Fresh),
        System::Rotor(Guest::C, Isolation::Reuse),
        System::Native,
        System::Python,
    ];

    /// The name used on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            System::Rotor(Guest::Rust, Isolation::Fresh) => "rotor-fresh",
            System::Rotor(Guest::Rust, Isolation::Reuse) => "rotor-reuse",
            System::Rotor(Guest::Js, Isolation::Fresh) => "rotor-js-fresh",
            System::Rotor(Guest::Js, Isolation::Reuse) => "rotor-js-reuse",
            System::Rotor(Guest::Python, Isolation::Fresh) => "rotor-py-fresh",
            System::Rotor(Guest::Python, Isolation::Reuse) => "rotor-py-reuse",
            System::Rotor(Guest::Go, Isolation::Fresh) => "rotor-go-fresh",
            System::Rotor(Guest::Go, Isolation::Reuse) => "rotor-go-reuse",
            System::Rotor(Guest::C, Isolation::Fresh) => "rotor-c-fresh",
            System::Rotor(Guest::C, Isolation::Reuse) => "rotor-c-reuse",
            System::Native => "native",
            System::Python => "python",
        }
    }

    /// The system called `name`.
    pub fn from_name(name: &str) -> Option<System> {
        System::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The systems `name` selects on the command line: one, or a group
    /// (`rotor`: the Rust plugins in both modes; `languages`: the RPC
    /// router in every language and mode).
    pub fn selected_by(name: &str) -> Vec<System> {
        match name {
            "rotor" => vec![System::ROTOR, System::Rotor(Guest::Rust, Isolation::Reuse)],
            "languages" => System::ALL
                .into_iter()
                .filter(|s| s.guest().is_some())
                .collect(),
            _ => System::from_name(name).into_iter().collect(),
        }
    }

    /// The name in the tables.
    pub fn label(self) -> &'static str {
        match self {
            System::Rotor(Guest::Rust, Isolation::Fresh) => "Rotor (wasm, fresh)",
            System::Rotor(Guest::Rust, Isolation::Reuse) => "Rotor (wasm, reuse)",
            System::Rotor(Guest::Js, Isolation::Fresh) => "Rotor (JS, fresh)",
            System::Rotor(Guest::Js, Isolation::Reuse) => "Rotor (JS, reuse)",
            System::Rotor(Guest::Python, Isolation::Fresh) => "Rotor (Python, fresh)",
            System::Rotor(Guest::Python, Isolation::Reuse) => "Rotor (Python, reuse)",
            System::Rotor(Guest::Go, Isolation::Fresh) => "Rotor (Go, fresh)",
            System::Rotor(Guest::Go, Isolation::Reuse) => "Rotor (Go, reuse)",
            System::Rotor(Guest::C, Isolation::Fresh) => "Rotor (C, fresh)",
            System::Rotor(Guest::C, Isolation::Reuse) => "Rotor (C, reuse)",
            System::Native => "native Rust",
            System::Python => "Python grpcio",
        }
    }

    /// The plugin language, for Rotor.
    pub fn guest(self) -> Option<Guest> {
        match self {
            System::Rotor(guest, _) => Some(guest),
            _ => None,
        }
    }

    /// Whether this system runs `scenario`: the baselines run them all,
    /// Rotor those its language has a plugin for.
    pub fn serves(self, scenario: Scenario) -> bool {
        self.guest().is_none_or(|guest| scenario.has_plugin(guest))
    }
}

/// What starting a system needs.
pub struct Launcher {
    /// The repository root.
    pub root: PathBuf,
    /// Where the built components are.
    pub plugin_dir: PathBuf,
    /// Where configs and server logs go.
    pub work_dir: PathBuf,
    /// The `rotor` binary.
    pub rotor: PathBuf,
    /// This benchmark binary, for the native server.
    pub this: PathBuf,
    /// The Python interpreter, if the Python backend runs.
    pub python: Option<PythonEnv>,
    /// Worker processes of the Python backend.
    pub python_workers: usize,
    /// The Python backend's server kind, `aio` or `sync`.
    pub python_server: String,
}

/// A running system.
pub struct Server {
    /// Which system.
    pub system: System,
    /// Its gRPC address, `http://127.0.0.1:port`.
    pub address: String,
    child: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

impl Launcher {
    /// Starts `system` for `scenario` and waits until it answers `call`
    /// correctly.
    pub async fn start(
        &self,
        system: System,
        scenario: Scenario,
        call: &Call,
    ) -> Result<Server, String> {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let log = self
            .work_dir
            .join(format!("{}-{}.log", scenario.name(), system.name()));
        let command = match system {
            System::Rotor(guest, isolation) => {
                let config =
                    self.work_dir
                        .join(format!("{}-{}.toml", scenario.name(), system.name()));
                std::fs::write(
                    &config,
                    scenario.rotor_config(Some(&listen), &self.plugin_dir, guest, isolation),
                )
                .map_err(|error| format!("writing {}: {error}", config.display()))?;
                self.rotor_command(&config)
            }
            System::Native => {
                let mut command = Command::new(&self.this);
                command
                    .arg("--serve-native")
                    .arg(&listen)
                    .arg(scenario.name());
                command
            }
            System::Python => {
                let python = self
                    .python
                    .as_ref()
                    .ok_or("the Python backend has no interpreter")?;
                let mut command = Command::new(&python.python);
                command
                    .arg(self.root.join("bench/python/server.py"))
                    .args(["--port", &port.to_string()])
                    .args(["--workers", &self.python_workers.to_string()])
                    .args(["--server", &self.python_server])
                    .args(["--scenario", scenario.name()])
                    .args(["--secret", SECRET])
                    .arg("--proto")
                    .arg(self.root.join("proto/proxy.proto"))
                    .env("PYTHONUNBUFFERED", "1");
                command
            }
        };
        self.spawn(system, command, &listen, log, call).await
    }

    /// Starts `rotor serve` with the configuration `config` (which must
    /// listen on the address this returns: it is passed the `listen` line
    /// to put first), named `name` in the work directory, and waits until it
    /// answers `call` correctly.
    pub async fn start_rotor_with(
        &self,
        name: &str,
        config: impl FnOnce(&str) -> String,
        call: &Call,
    ) -> Result<Server, String> {
        let listen = format!("127.0.0.1:{}", free_port()?);
        let path = self.work_dir.join(format!("{name}.toml"));
        std::fs::write(&path, config(&format!("listen = {listen:?}\n")))
            .map_err(|error| format!("writing {}: {error}", path.display()))?;
        let log = self.work_dir.join(format!("{name}.log"));
        let command = self.rotor_command(&path);
        self.spawn(System::ROTOR, command, &listen, log, call).await
    }

    fn rotor_command(&self, config: &Path) -> Command {
        let mut command = Command::new(&self.rotor);
        command.arg("serve").arg("--config").arg(config);
        // Rotor logs nothing per call at `warn`; faults still show.
        command.env("RUST_LOG", "warn");
        command
    }

    async fn spawn(
        &self,
        system: System,
        mut command: Command,
        listen: &str,
        log: PathBuf,
        call: &Call,
    ) -> Result<Server, String> {
        let output =
            File::create(&log).map_err(|error| format!("creating {}: {error}", log.display()))?;
        let errors = output
            .try_clone()
            .map_err(|error| format!("sharing {}: {error}", log.display()))?;
        // The native and Python servers exit when their standard input
        // closes, so none outlives the benchmark, whatever stops it.
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(output)
            .stderr(errors)
            .spawn()
            .map_err(|error| format!("starting {command:?}: {error}"))?;
        let stdin = child.stdin.take();
        let mut server = Server {
            system,
            address: format!("http://{listen}"),
            child,
            stdin,
            log,
        };
        server.wait_ready(call).await?;
        Ok(server)
    }
}

impl Server {
    async fn wait_ready(&mut self, call: &Call) -> Result<(), String> {
        let give_up = Instant::now() + STARTUP_TIMEOUT;
        let mut last = String::from("no answer yet");
        while Instant::now() < give_up {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited at start ({status}):\n{}",
                    self.system.name(),
                    self.log_tail()
                ));
            }
            match load::connect(&self.address, 1).await {
                Ok(mut clients) => match call.send(&mut clients[0], Duration::from_secs(5)).await {
                    Outcome::Ok => return Ok(()),
                    outcome => last = format!("first call: {outcome:?}"),
                },
                Err(error) => last = format!("connecting: {error}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "{} did not answer within {STARTUP_TIMEOUT:?} ({last}):\n{}",
            self.system.name(),
            self.log_tail()
        ))
    }

    /// The peak resident memory of the server, in KiB: the kernel's
    /// high-water mark (`VmHWM`) of its process, summed over its worker
    /// processes if it has any (Python). Pages a forked worker shares with
    /// its parent count in both, so for Python this is an upper bound.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let tree = process_tree(self.child.id());
        let peaks: Vec<u64> = tree
            .iter()
            .filter_map(|pid| status_kib(*pid, "VmHWM"))
            .collect();
        (!peaks.is_empty()).then(|| peaks.iter().sum())
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the server and its workers.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing standard input stops the native and Python servers and
        // every Python worker; Rotor is killed.
        drop(self.stdin.take());
        let give_up = Instant::now() + Duration::from_secs(3);
        while !matches!(self.system, System::Rotor(..)) && Instant::now() < give_up {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|error| format!("finding a free loopback port: {error}"))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| format!("finding a free loopback port: {error}"))
}

/// `pid` and its descendants.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|child| Some((child, parent_of(child)?)))
        .collect();
    let mut tree = vec![pid];
    let mut index = 0;
    while index < tree.len() {
        let parent = tree[index];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        index += 1;
    }
    tree
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: read after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// A `kB` field of `/proc/<pid>/status`.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    status_field(Path::new(&format!("/proc/{pid}/status")), field)
}

/// A `kB` field of a `status` file.
pub fn status_field(path: &Path, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}
