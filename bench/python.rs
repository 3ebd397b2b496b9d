//! The Python backend's interpreter: one with exactly the grpcio and
//! grpcio-tools versions pinned in `bench/python/requirements.txt`.
//!
//! `ROTOR_BENCH_PYTHON` names one to use; otherwise `python3` is used when
//! it already has the pinned versions (as in CI after `pip install -r`),
//! and else a virtual environment under `target/bench/venv` is created and
//! filled with `pip` once.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// An interpreter that can run `bench/python/server.py`.
#[derive(Debug, Clone)]
pub struct PythonEnv {
    /// The interpreter.
    pub python: PathBuf,
    /// The grpcio version it has.
    pub grpcio: String,
    /// The interpreter's own version, e.g. `3.11.7`.
    pub version: String,
}

/// Finds or makes an interpreter with the pinned packages.
pub fn prepare(root: &Path, target: &Path) -> Result<PythonEnv, String> {
    let requirements = root.join("bench/python/requirements.txt");
    let text = std::fs::read_to_string(&requirements)
        .map_err(|error| format!("reading {}: {error}", requirements.display()))?;
    let wanted = (pinned(&text, "grpcio")?, pinned(&text, "grpcio-tools")?);

    if let Some(python) = std::env::var_os("ROTOR_BENCH_PYTHON") {
        let python = PathBuf::from(python);
        return check(&python, &wanted).ok_or_else(|| {
            format!(
                "ROTOR_BENCH_PYTHON={} lacks grpcio {} and grpcio-tools {}",
                python.display(),
                wanted.0,
                wanted.1
            )
        });
    }
    if let Some(found) = check(Path::new("python3"), &wanted) {
        return Ok(found);
    }
    let venv = target.join("bench/venv");
    let python = venv.join("bin/python");
    if let Some(found) = check(&python, &wanted) {
        return Ok(found);
    }
    eprintln!(
        "setting up Python: grpcio {} in {}",
        wanted.0,
        venv.display()
    );
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements))?;
    check(&python, &wanted).ok_or_else(|| {
        format!(
            "{} still lacks the pinned grpcio after pip install",
            python.display()
        )
    })
}

/// The version `package==version` pins in a requirements file.
fn pinned(requirements: &str, package: &str) -> Result<String, String> {
    requirements
        .lines()
        .filter_map(|line| line.split('#').next())
        .filter_map(|line| line.trim().split_once("=="))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case(package))
        .map(|(_, version)| version.trim().to_owned())
        .ok_or_else(|| format!("requirements.txt pins no version of {package}"))
}

/// `python` if it imports grpcio and grpcio-tools at the `wanted` versions.
fn check(python: &Path, wanted: &(String, String)) -> Option<PythonEnv> {
    let output = Command::new(python)
        .args([
            "-c",
            "import platform, grpc, grpc_tools; from importlib.metadata import version; \
             print(version('grpcio'), version('grpcio-tools'), platform.python_version())",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let mut words = text.split_whitespace();
    let (grpcio, tools, version) = (words.next()?, words.next()?, words.next()?);
    (output.status.success() && grpcio == wanted.0 && tools == wanted.1).then(|| PythonEnv {
        python: python.to_owned(),
        grpcio: grpcio.to_owned(),
        version: version.to_owned(),
    })
}

fn run(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|error| format!("running {command:?}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {status}"))
    }
}
