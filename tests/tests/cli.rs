//! The admin commands a property office runs: import a site from its YAML file, add a user with
//! the password on standard input, then sign in as that user and pull the site.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use patrol_e2e::{Server, admin};

#[test]
fn a_site_file_and_a_user_make_a_working_site() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/examples/site.yaml");
    let (ok, out) = admin(dir.path(), &["site", "import", example], "");
    assert!(ok, "{out}");
    assert!(out.contains("6 checkpoints"), "{out}");
    let (ok, out) = admin(dir.path(), &["site", "import", example], "");
    assert!(
        !ok && out.contains("exists already"),
        "importing twice is refused: {out}"
    );

    let (ok, out) = admin(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "lin",
            "--role",
            "patrol",
            "--site",
            "cuihu",
        ],
        "short\n",
    );
    assert!(!ok && out.contains("at least 8"), "{out}");
    let (ok, out) = admin(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "lin",
            "--role",
            "guard",
            "--site",
            "cuihu",
        ],
        "long enough password\n",
    );
    assert!(
        !ok && out.contains("guard"),
        "an unknown role is named: {out}"
    );
    let (ok, out) = admin(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "lin",
            "--role",
            "patrol",
            "--site",
            "cuihu",
        ],
        "long enough password\n",
    );
    assert!(ok, "{out}");

    let server = Server::start(dir.path(), &[]);
    let mut login = ureq::post(&format!("{}/api/v1/auth/login", server.base_url))
        .send_json(serde_json::json!({"username": "lin", "password": "long enough password"}))
        .unwrap();
    let tokens: serde_json::Value = login.body_mut().read_json().unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let mut pull = ureq::get(&format!("{}/api/v1/sync/pull", server.base_url))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let page: serde_json::Value = pull.body_mut().read_json().unwrap();
    let names: Vec<&str> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "checkpoint")
        .map(|c| c["data"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 6);
    assert!(names.contains(&"5栋天台门"));
}

#[test]
fn a_technician_needs_a_team() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/examples/site.yaml");
    assert!(admin(dir.path(), &["site", "import", example], "").0);
    let (ok, out) = admin(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "wang",
            "--role",
            "technician",
            "--site",
            "cuihu",
        ],
        "long enough password\n",
    );
    assert!(!ok && out.contains("a technician needs a team"), "{out}");
    let (ok, out) = admin(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "wang",
            "--role",
            "technician",
            "--site",
            "cuihu",
            "--team",
            "engineering",
        ],
        "long enough password\n",
    );
    assert!(ok, "{out}");
}
