//! A real S3-compatible server for the tests: moto's server (PyPI `moto[server]`, which
//! `./scripts/test` installs when it is missing), run as `python3 -m moto.server` on a free
//! port, stopped when dropped.
//!
//! moto keeps everything in memory and does not check request signatures (it only refuses
//! anonymous reads), so the tests read and change objects behind the server's back with plain
//! HTTP and a made-up `Authorization` header (a photo swapped in the bucket, an object deleted),
//! while the server talks to it as to S3, signed, through `object_store`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The credentials moto accepts (any would do: it does not check them).
const KEY_ID: &str = "patrol-test";
const SECRET: &str = "patrol-test-secret";
const REGION: &str = "us-east-1";
/// An `Authorization` header moto takes for a signed-in caller (it does not check the signature).
const AUTH: &str = "AWS4-HMAC-SHA256 Credential=patrol-test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    agent: ureq::Agent,
}

impl Moto {
    /// Start moto's server on a free port and wait until it listens. Panics, saying how to
    /// install it, when it is not installed.
    pub fn start() -> Moto {
        let mut child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start python3 -m moto.server ({e}): the S3 tests need Python 3 and `python3 -m pip install 'moto[server]'` (./scripts/test installs it when missing)"
                )
            });
        // Werkzeug says where it listens on stderr: ` * Running on http://127.0.0.1:PORT`.
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let mut lines = BufReader::new(stderr).lines();
        let started = Instant::now();
        let mut said = String::new();
        let endpoint = loop {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto's server did not start: {said}"
            );
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(at) = line.find("Running on http://") {
                        break line[at + "Running on ".len()..].trim().to_owned();
                    }
                    said.push_str(&line);
                    said.push('\n');
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "moto's server exited before listening — is it installed? `python3 -m pip install 'moto[server]'` (./scripts/test installs it): {said}"
                    );
                }
            }
        };
        // Keep draining stderr (one line per request) so moto never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Moto {
            child,
            endpoint,
            agent,
        }
    }

    /// A new bucket with a unique name.
    pub fn bucket(&self) -> String {
        let name = format!("patrol-{}", uuid::Uuid::now_v7().simple());
        let resp = self
            .agent
            .put(format!("{}/{name}", self.endpoint))
            .header("authorization", AUTH)
            .send_empty()
            .unwrap_or_else(|e| panic!("cannot create bucket {name}: {e}"));
        assert_eq!(resp.status().as_u16(), 200, "create bucket {name}");
        name
    }

    /// The environment a server process needs to use this S3: credentials, region, endpoint.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// An object's bytes, or `None` when it is not there.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let mut resp = self
            .agent
            .get(format!("{}/{bucket}/{key}", self.endpoint))
            .header("authorization", AUTH)
            .call()
            .unwrap_or_else(|e| panic!("GET {bucket}/{key}: {e}"));
        match resp.status().as_u16() {
            200 => Some(
                resp.body_mut()
                    .with_config()
                    .limit(64 << 20)
                    .read_to_vec()
                    .unwrap_or_else(|e| panic!("GET {bucket}/{key}: {e}")),
            ),
            404 => None,
            s => panic!("GET {bucket}/{key}: status {s}"),
        }
    }

    /// Put an object behind the server's back.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let resp = self
            .agent
            .put(format!("{}/{bucket}/{key}", self.endpoint))
            .header("authorization", AUTH)
            .send(bytes)
            .unwrap_or_else(|e| panic!("PUT {bucket}/{key}: {e}"));
        assert_eq!(resp.status().as_u16(), 200, "PUT {bucket}/{key}");
    }

    /// Delete an object behind the server's back.
    pub fn delete(&self, bucket: &str, key: &str) {
        let resp = self
            .agent
            .delete(format!("{}/{bucket}/{key}", self.endpoint))
            .header("authorization", AUTH)
            .call()
            .unwrap_or_else(|e| panic!("DELETE {bucket}/{key}: {e}"));
        assert_eq!(resp.status().as_u16(), 204, "DELETE {bucket}/{key}");
    }

    /// The keys in a bucket (at most a thousand: enough for a test).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let mut resp = self
            .agent
            .get(format!("{}/{bucket}?list-type=2", self.endpoint))
            .header("authorization", AUTH)
            .call()
            .unwrap_or_else(|e| panic!("list {bucket}: {e}"));
        let xml = resp.body_mut().read_to_string().unwrap_or_default();
        xml.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned()))
            .collect()
    }

    /// Stop the server, as an outage of the store would (what it held is gone with it).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The key a blob is kept under in a store (the same in a folder and a bucket).
pub fn blob_key(sha256: &str) -> String {
    format!("{}/{sha256}.jpg", &sha256[..2])
}
