//! Photos in an object store (DESIGN.md §13), against a real S3-compatible server (`moto`):
//!
//! - A phone's photos go through sync into the bucket and nowhere on the server's disk; the
//!   console and the API serve them back byte for byte; `verify-audit` reads them from the bucket and
//!   names a photo changed or deleted there; an outage of the store answers a retryable 503.
//! - A store that cannot be used stops the server at startup, saying why.
//! - Two server processes on one PostgreSQL and one bucket each serve a photo uploaded through
//!   the other (when `PATROL_TEST_DATABASE_URL` is set).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;

use patrol_core::engine::{Engine, ReportDraft};
use patrol_core::issue::{Category, Source};
use patrol_core::sync::{CancelToken, SyncClient, SyncReport};
use patrol_e2e::s3::{Moto, blob_key};
use patrol_e2e::{Backend, ConsoleClient, Server, SharedDatabase, admin_with_env};

const PASSWORD: &str = "group-password";

fn phone(dir: &Path, name: &str) -> Engine {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    Engine::open(&dir.join(name).join("patrol.db")).unwrap()
}

fn jpeg(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(1000, 750, |x, y| {
        image::Rgb([(x / 3) as u8 ^ seed, (y / 7) as u8, seed.wrapping_mul(31)])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn sync(client: &SyncClient, engine: &Engine) -> SyncReport {
    let report = client.sync(engine, &|_| {}, &CancelToken::new()).unwrap();
    assert_eq!(report.rejected, 0, "{report:?}");
    report
}

/// A fault reported from the phone with `photos` new pictures; the issue id and photo ids.
fn report_with_photos(engine: &Engine, title: &str, seeds: &[u8]) -> (String, Vec<String>) {
    let photos: Vec<String> = seeds
        .iter()
        .map(|s| engine.add_photo(&jpeg(*s)).unwrap())
        .collect();
    let site = engine.sites().unwrap().remove(0);
    let issue = engine
        .report(ReportDraft {
            site_id: Some(site.id),
            visit_id: None,
            item_key: None,
            zone_id: None,
            category: Some(Category::Facility),
            severity: None,
            title: title.into(),
            note: Some("照片见附件".into()),
            photos: photos.clone(),
            fixed_on_spot: false,
            source: Source::Desk,
        })
        .unwrap();
    (issue.id.to_string(), photos)
}

/// The console's copy of an issue's photo: its status and bytes.
fn served(console: &mut ConsoleClient, issue: &str, sha: &str) -> (u16, Vec<u8>) {
    let (status, content_type, bytes) =
        console.bytes(&format!("/console/issues/{issue}/blobs/{sha}"));
    if status == 200 {
        assert_eq!(content_type, "image/jpeg");
    }
    (status, bytes)
}

#[test]
fn photos_live_in_the_bucket_and_nowhere_else() {
    let mut moto = Moto::start();
    let bucket = moto.bucket();
    let blob_url = format!("s3://{bucket}/estate");
    let env = moto.env();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = Server::start_with_env(&data, &["--demo", "--blob-url", &blob_url], &env);

    // The demo's own pictures (photos, signature images) went to the bucket, under the prefix.
    let demo_keys = moto.keys(&bucket);
    assert!(!demo_keys.is_empty());
    assert!(
        demo_keys.iter().all(|k| k.starts_with("estate/")),
        "{demo_keys:?}"
    );

    // A patroller reports a fault with two photos; sync uploads them.
    let client = SyncClient::new(&server.base_url);
    let patrol = phone(dir.path(), "patrol");
    client.login(&patrol, "demo-patrol", "demo").unwrap();
    sync(&client, &patrol);
    let (issue, photos) = report_with_photos(&patrol, "地库B2排水沟堵塞", &[1, 2]);
    let pushed = sync(&client, &patrol);
    assert_eq!(pushed.photos, 2, "{pushed:?}");

    // In the bucket, byte for byte what the phone made; nothing on the server's disk.
    for sha in &photos {
        let on_phone = std::fs::read(patrol.photo_path(sha)).unwrap();
        let key = format!("estate/{}", blob_key(sha));
        assert_eq!(moto.get(&bucket, &key).as_deref(), Some(&on_phone[..]));
    }
    assert!(
        !data.join("blobs").exists(),
        "no blob folder when the store is a bucket"
    );

    // The supervisor's console serves them back from the bucket, byte for byte.
    let mut console = ConsoleClient::sign_in(&server.base_url, "demo-super", "demo");
    for sha in &photos {
        let on_phone = std::fs::read(patrol.photo_path(sha)).unwrap();
        assert_eq!(served(&mut console, &issue, sha), (200, on_phone));
    }
    // So does the API, to the phone of someone who may see the issue; a blob the issue does
    // not name is not found through it.
    let (token, _) = patrol.tokens().unwrap().unwrap();
    let api = |issue: &str, sha: &str| {
        let mut resp = ureq::get(&format!(
            "{}/api/v1/issues/{issue}/blobs/{sha}",
            server.base_url
        ))
        .header("authorization", format!("Bearer {token}"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_vec().unwrap_or_default())
    };
    for sha in &photos {
        let on_phone = std::fs::read(patrol.photo_path(sha)).unwrap();
        assert_eq!(api(&issue, sha), (200, on_phone));
    }
    // A demo picture: stored, but not one this issue names.
    let stranger = demo_keys
        .iter()
        .filter(|k| !k.starts_with("estate/archive/"))
        .find_map(|k| k.rsplit('/').next()?.strip_suffix(".jpg"))
        .unwrap();
    assert_eq!(api(&issue, stranger).0, 404);

    // The issue page links them.
    let page = console.get(&format!("/console/issues/{issue}"));
    assert!(page.body.contains(&photos[0]), "the page shows the photo");

    // verify-audit reads every photo the records name from the bucket.
    let verify = || server.admin(&["--blob-url", &blob_url, "verify-audit"], "");
    let (ok, out) = verify();
    assert!(ok && out.contains("verified:"), "{out}");
    // A photo changed in the bucket is named; so is one deleted; put back, all verifies.
    let key = format!("estate/{}", blob_key(&photos[1]));
    let original = moto.get(&bucket, &key).unwrap();
    let mut changed = original.clone();
    let mid = changed.len() / 2;
    changed[mid] ^= 0x01;
    moto.put(&bucket, &key, &changed);
    let (ok, out) = verify();
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("photo {} was changed", photos[1])),
        "{out}"
    );
    moto.delete(&bucket, &key);
    let (ok, out) = verify();
    assert!(
        !ok && out.contains(&format!("photo {} is missing", photos[1])),
        "{out}"
    );
    moto.put(&bucket, &key, &original);
    let (ok, out) = verify();
    assert!(ok, "{out}");

    // A store that cannot be used stops the program at once, saying why.
    let other = dir.path().join("other");
    for (url, said) in [
        (format!("s3://{bucket}-missing/p"), "is not usable"),
        (
            "ftp://files.example/photos".to_owned(),
            "unsupported blob store URL",
        ),
    ] {
        let (ok, out) = admin_with_env(
            &other,
            &["--blob-url", &url, "serve", "--listen", "127.0.0.1:0"],
            "",
            &env,
        );
        assert!(
            !ok && out.contains(said) && out.contains(&url),
            "{url}: {out}"
        );
    }

    // An upload whose bytes are not what its name says is refused before the store sees it:
    // nothing appears under that name in the bucket.
    let fresh = patrol.add_photo(&jpeg(7)).unwrap();
    let bytes = std::fs::read(patrol.photo_path(&fresh)).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_age(patrol_core::sync::POOLED_IDLE)
        .http_status_as_error(false)
        .build()
        .into();
    let mut forged = bytes.clone();
    let at = forged.len() / 2;
    forged[at] ^= 0x01;
    let resp = agent
        .put(format!("{}/api/v1/blobs/{fresh}", server.base_url))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "image/jpeg")
        .send(&forged[..])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    assert!(
        moto.get(&bucket, &format!("estate/{}", blob_key(&fresh)))
            .is_none(),
        "a refused upload leaves nothing in the bucket"
    );

    // The store goes down: an upload and a photo view answer 503 with Retry-After (the phone
    // retries later), never a lost photo or a 500.
    moto.stop();
    let resp = agent
        .put(format!("{}/api/v1/blobs/{fresh}", server.base_url))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "image/jpeg")
        .send(&bytes[..])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().get("retry-after").is_some());
    let head = agent
        .head(format!("{}/api/v1/blobs/{fresh}", server.base_url))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(
        head.status().as_u16(),
        404,
        "the failed upload is not known"
    );
    assert_eq!(served(&mut console, &issue, &photos[0]).0, 503);
}

#[test]
fn two_servers_on_one_database_and_one_bucket_serve_each_others_photos() {
    let Some(Backend::Postgres(admin_url)) = Backend::postgres() else {
        eprintln!("PATROL_TEST_DATABASE_URL is not set: the two-server photo test is left to CI");
        return;
    };
    let db = SharedDatabase::create(&admin_url);
    let moto = Moto::start();
    let bucket = moto.bucket();
    let blob_url = format!("s3://{bucket}/group");
    let env = moto.env();
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    // A small site and two users (quicker than the demo estate on PostgreSQL).
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/examples/site.yaml");
    let setup = dir.path().join("setup");
    let (ok, out) = admin_with_env(
        &setup,
        &["--database-url", &url, "site", "import", example],
        "",
        &[],
    );
    assert!(ok, "{out}");
    for (name, role) in [("group-patrol", "patrol"), ("group-super", "supervisor")] {
        let (ok, out) = admin_with_env(
            &setup,
            &[
                "--database-url",
                &url,
                "user",
                "add",
                "--username",
                name,
                "--role",
                role,
                "--site",
                "cuihu",
            ],
            PASSWORD,
            &[],
        );
        assert!(ok, "{out}");
    }
    let a = Server::start_with_env(
        &dir.path().join("a"),
        &["--database-url", &url, "--blob-url", &blob_url],
        &env,
    );
    let b = Server::start_with_env(
        &dir.path().join("b"),
        &["--database-url", &url, "--blob-url", &blob_url],
        &env,
    );

    // One phone: a fault through server A, another through server B.
    let patrol = phone(dir.path(), "patrol");
    let via_a = SyncClient::new(&a.base_url);
    let via_b = SyncClient::new(&b.base_url);
    via_a.login(&patrol, "group-patrol", PASSWORD).unwrap();
    sync(&via_a, &patrol);
    let (issue_a, photos_a) = report_with_photos(&patrol, "1号楼电梯按钮失灵", &[11]);
    assert_eq!(sync(&via_a, &patrol).photos, 1);
    let (issue_b, photos_b) = report_with_photos(&patrol, "2号楼门禁不开", &[12]);
    assert_eq!(sync(&via_b, &patrol).photos, 1);

    // Each server serves the photo the other one received.
    let mut console_a = ConsoleClient::sign_in(&a.base_url, "group-super", PASSWORD);
    let mut console_b = ConsoleClient::sign_in(&b.base_url, "group-super", PASSWORD);
    for (console, issue, sha) in [
        (&mut console_b, &issue_a, &photos_a[0]),
        (&mut console_a, &issue_b, &photos_b[0]),
    ] {
        let on_phone = std::fs::read(patrol.photo_path(sha)).unwrap();
        assert_eq!(served(console, issue, sha), (200, on_phone));
    }
    for server in [&a, &b] {
        assert!(!server.data_dir().join("blobs").exists());
    }
    let (ok, out) = b.admin(
        &[
            "--database-url",
            &url,
            "--blob-url",
            &blob_url,
            "verify-audit",
        ],
        "",
    );
    assert!(ok, "{out}");
}
