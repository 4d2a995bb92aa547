//! Every printed label must read back with an independent decoder: `zbarimg` from Debian's
//! zbar-tools, run as its own process on the PNG we produce.

use std::process::Command;

use patrol_core::ids::{CheckpointId, SiteId};
use patrol_core::labels::{self, SiteKey};

fn zbarimg(path: &std::path::Path) -> String {
    let out = Command::new("zbarimg")
        .args(["--raw", "-q", "-Sdisable", "-Sqrcode.enable"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run zbarimg ({e}); run ./scripts/test, which installs Debian's zbar-tools"
            )
        });
    assert!(
        out.status.success(),
        "zbarimg failed on {}: {:?}",
        path.display(),
        out
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

#[test]
fn zbarimg_reads_every_label_we_print() {
    let dir = tempfile::tempdir().unwrap();
    for site_no in 0..3 {
        let key = SiteKey::generate().unwrap();
        let site = SiteId::new();
        for cp_no in 0..4 {
            let token = labels::sign(site, CheckpointId::new(), &key);
            let png = labels::render_png(&token).unwrap();
            let path = dir.path().join(format!("label-{site_no}-{cp_no}.png"));
            std::fs::write(&path, png).unwrap();
            assert_eq!(zbarimg(&path), token);
        }
    }
}

#[test]
fn zbarimg_reads_the_demo_estates_labels() {
    let dir = tempfile::tempdir().unwrap();
    let key = SiteKey::generate().unwrap();
    let estate = patrol_core::demo::estate("demo", "阳光花园", &key);
    for cp in &estate.checkpoints {
        let path = dir.path().join(format!("{}.png", cp.id));
        std::fs::write(&path, labels::render_png(&cp.qr_token).unwrap()).unwrap();
        assert_eq!(zbarimg(&path), cp.qr_token, "{}", cp.name);
    }
}
