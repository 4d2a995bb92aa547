//! What the end-to-end tests share: starting the real server binary on a free port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `patrol-server serve`, stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
}

/// Where the server binary is: `PATROL_SERVER_BIN`, or beside the test executable in the
/// target folder (`./scripts/test` builds it before the tests run).
pub fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PATROL_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test> → target/<profile>/patrol-server
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    dir.join(format!("patrol-server{}", std::env::consts::EXE_SUFFIX))
}

impl Server {
    /// Start the server with `--demo` on port 0 in `data_dir`, and wait until it listens.
    pub fn start_demo(data_dir: &Path) -> Server {
        Server::start(data_dir, &["--demo"])
    }

    /// Start the server with extra `serve` arguments.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let bin = server_binary();
        assert!(
            bin.exists(),
            "{} is missing: run ./scripts/test (it builds the server first) or `cargo build -p patrol-server`",
            bin.display()
        );
        let mut child = Command::new(&bin)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut lines = BufReader::new(stdout).lines();
        let started = Instant::now();
        let base_url = loop {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not start"
            );
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("patrol-server listening on ") {
                        break url.trim().to_owned();
                    }
                }
                _ => panic!("the server exited before listening"),
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base_url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
