//! The seat-booking demo in a browser: the page of
//! `plugins/ticket-booking/web`, served by its own `serve.mjs`, opened twice
//! in headless Chromium (the system's, driven by playwright-core from
//! `tests/client/browser.mjs`). A seat booked in one page shows as taken in
//! the other within a second, and a screenshot of both pages is saved.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value as Json, json};

use super::{
    API_KEY, Centrifugo, Client, Ports, RotorProcess, SECRET, all_proxies, missing, root,
    token_data, tools, user_token,
};

/// Where Debian's Chromium is.
const CHROMIUM: &str = "/usr/bin/chromium";

/// `plugins/ticket-booking/web` with its packages installed (`npm ci` on
/// first use).
fn page_dir() -> Option<&'static Path> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| root().join("plugins/ticket-booking/web"));
    if !dir
        .join("node_modules/centrifuge/dist/centrifuge.js")
        .exists()
    {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .status();
        match status {
            Ok(status) => assert!(status.success(), "npm ci in {} failed", dir.display()),
            Err(_) => return missing("npm is needed to install the page's JavaScript SDK"),
        }
    }
    Some(dir)
}

/// The page's server, killed on drop.
struct PageServer {
    child: Child,
    /// `http://127.0.0.1:<port>/`.
    url: String,
}

impl PageServer {
    /// Serves the page on a free port, pointing it at `centrifugo` (a
    /// WebSocket URL) and signing tokens with [`SECRET`].
    fn start(dir: &Path, centrifugo: &str) -> PageServer {
        let mut child = Command::new("node")
            .args([
                "serve.mjs",
                "--port",
                "0",
                "--event",
                "show",
                "--centrifugo",
                centrifugo,
            ])
            .current_dir(dir)
            .env("ROTOR_JWT_SECRET", SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting node serve.mjs");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("reading serve.mjs");
        let url = first
            .trim()
            .strip_prefix("serving ")
            .unwrap_or_else(|| panic!("serve.mjs said {first:?}"))
            .to_owned();
        PageServer { child, url }
    }

    /// The page's origin, as the browser sends it.
    fn origin(&self) -> &str {
        self.url.trim_end_matches('/')
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_seat_booked_in_one_browser_shows_as_taken_in_the_other() {
    let Some(tools) = tools() else { return };
    if !Path::new(CHROMIUM).exists() {
        let _: Option<()> =
            missing("Chromium is needed for the browser test (Debian package `chromium`)");
        return;
    }
    let Some(page_dir) = page_dir() else { return };

    let ports = Ports::free();
    let rotor = RotorProcess::start_with_env(
        &format!(
            r#"
[handlers]
connect = "connect-jwt.wasm"

[handlers.subscribe]
default = "subscribe-acl.wasm"

[handlers.rpc]
methods = {{ "booking:" = "ticket-booking.wasm" }}

[centrifugo]
api = "{api}"
api_key_env = "E2E_CENTRIFUGO_API_KEY"
namespaces = ["event"]

[settings."connect-jwt.wasm"]
secret = "{SECRET}"

[settings."subscribe-acl.wasm"]
public_namespaces = "event"
"#,
            api = ports.api_url()
        ),
        &[("E2E_CENTRIFUGO_API_KEY", API_KEY)],
    );
    let ws_url = format!("ws://127.0.0.1:{}/connection/websocket", ports.http);
    let page = PageServer::start(page_dir, &ws_url);
    let mut config = all_proxies(&rotor.endpoint(), &["event"], json!({}));
    config["rpc"]["namespaces"] = json!([{ "name": "booking", "proxy_enabled": true }]);
    // A browser sends its page's Origin, which Centrifugo refuses unless
    // it is listed (see docs/centrifugo-facts.md).
    config["client"]["allowed_origins"] = json!([page.origin()]);
    let centrifugo = Centrifugo::start_on(tools, ports, config);

    let screenshot = root().join("target/e2e/seat-booking.png");
    std::fs::create_dir_all(screenshot.parent().expect("a parent")).expect("target/e2e");
    let _ = std::fs::remove_file(&screenshot);
    let output = Command::new("node")
        .arg("browser.mjs")
        .arg("--url")
        .arg(&page.url)
        .arg("--screenshot")
        .arg(&screenshot)
        .arg("--chromium")
        .arg(CHROMIUM)
        .current_dir(tools.client_dir)
        .stdin(Stdio::null())
        .output()
        .expect("running node browser.mjs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result: Json = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            panic!(
                "browser.mjs printed no result:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    assert_eq!(
        result["ok"],
        true,
        "{result}\nCentrifugo:\n{}\nRotor:\n{}",
        centrifugo.log.text(),
        rotor.log.text()
    );
    assert!(output.status.success(), "{result}");

    // Each page shows its own seat as its own and the other's as taken.
    for (page, mine, theirs) in [("alice", "B4", "C5"), ("bob", "C5", "B4")] {
        assert_eq!(result[page][mine], "mine", "{page}: {result}");
        assert_eq!(result[page][theirs], "taken", "{page}: {result}");
        let free = result[page]
            .as_object()
            .expect("the seat map")
            .values()
            .filter(|state| *state == "free")
            .count();
        assert_eq!(free, 30, "{page}: the other 30 seats are free: {result}");
    }
    // What the pages show is what the plugin stored.
    let mut client = Client::start(tools);
    let login = json!({ "data": token_data(&user_token("carol", 600)) });
    client.connected("carol", &centrifugo.ws_url(), login);
    let map = client
        .rpc("carol", "booking:seats", json!({ "event": "show" }))
        .expect("the seat map");
    assert_eq!(
        map,
        json!({ "event": "show", "booked": { "B4": "alice", "C5": "bob" } })
    );
    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    eprintln!(
        "pages saw each other's booking after {} ms; screenshot: {}",
        result["seen_ms"],
        screenshot.display()
    );
}
