//! Responses are compressed when the client asks (gzip or zstd), and a phone's pull decodes to
//! the same changes as an uncompressed one: a first pull on a weak signal is mostly repeated
//! keys and ids.

use std::io::{Read, Write};
use std::net::TcpStream;

use patrol_e2e::{Http, Server};

/// A raw GET (no client that decodes for us): status line and headers, and the body as sent.
fn raw_get(base_url: &str, path: &str, token: &str, encoding: &str) -> (String, Vec<u8>) {
    let addr = base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("a raw HTTP answer");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept-Encoding: {encoding}\r\nConnection: close\r\n\r\n"
    )
    .expect("a raw HTTP answer");
    let mut all = Vec::new();
    stream.read_to_end(&mut all).expect("a raw HTTP answer");
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a raw HTTP answer");
    let head = String::from_utf8_lossy(&all[..split]).to_lowercase();
    let mut body = all[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = unchunk(&body);
    }
    (head, body)
}

fn unchunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a raw HTTP answer");
        let size = usize::from_str_radix(
            std::str::from_utf8(&rest[..line_end])
                .expect("a raw HTTP answer")
                .trim(),
            16,
        )
        .expect("a raw HTTP answer");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[test]
fn a_pull_is_smaller_compressed_and_decodes_to_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let http = Http::new(&server.base_url);
    let token = http.token("demo-patrol", "demo");
    let path = "/api/v1/sync/pull?limit=2000";

    let (head, plain) = raw_get(&server.base_url, path, &token, "identity");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("content-encoding"), "{head}");
    let plain: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert!(!plain["changes"].as_array().unwrap().is_empty());

    let (head, gzipped) = raw_get(&server.base_url, path, &token, "gzip");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_end(&mut text)
        .unwrap();
    let decoded: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(decoded, plain, "gzip decodes to the same pull");
    assert!(
        gzipped.len() * 3 <= text.len(),
        "gzip: {} bytes of {}",
        gzipped.len(),
        text.len()
    );

    let (head, zstded) = raw_get(&server.base_url, path, &token, "zstd");
    assert!(head.contains("content-encoding: zstd"), "{head}");
    let decoded: serde_json::Value =
        serde_json::from_slice(&zstd::decode_all(&zstded[..]).unwrap()).unwrap();
    assert_eq!(decoded, plain, "zstd decodes to the same pull");
    assert!(zstded.len() < text.len());

    // The phones' client asks for gzip and reads the answer as before.
    let (status, pulled) = http.get(path, Some(&token));
    assert_eq!(status, 200);
    assert_eq!(pulled, plain);
}
