//! Printed labels as a supervisor downloads them: the site's A4 sheets as PDF carry the CJK
//! font embedded and subset, every code on every page reads back with `zbarimg` (after
//! `pdftoppm` rasterises it at 150 dpi) as exactly the site's labels, and the names are text;
//! one label's PNG reads back as its token. Patrol staff get 403, another site's 404, no token 401.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use patrol_e2e::{Http, OTHER_SITE_PASSWORD, Server, add_other_site};
use serde_json::Value;

fn tool(name: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(name)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {name} ({e}); run ./scripts/test, which installs poppler-utils and zbar-tools")
        });
    assert!(out.status.success(), "{name} {args:?} failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// GET a file: status, content type and bytes.
fn fetch(base: &str, path: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_age(patrol_core::sync::POOLED_IDLE)
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap();
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap();
    (status, kind, body)
}

/// The checkpoints a user's pull carries: (id, site, name, English name, token).
fn checkpoints(http: &Http, token: &str) -> Vec<(String, String, String, String, String)> {
    let (_, pulled) = http.get("/api/v1/sync/pull?limit=2000", Some(token));
    pulled["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "checkpoint" && c["data"].is_object())
        .map(|c| {
            let d = &c["data"];
            let s = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
            (
                s("id"),
                s("site_id"),
                s("name"),
                s("name_en"),
                s("qr_token"),
            )
        })
        .collect()
}

#[test]
fn a_supervisor_prints_the_sites_labels_and_every_code_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    add_other_site(dir.path());
    let server = Server::start_demo(dir.path());
    let http = Http::new(&server.base_url);
    let base = &server.base_url;
    let token = http.token("demo-super", "demo");
    let ours = checkpoints(&http, &token);
    assert_eq!(ours.len(), 17, "the demo estate's checkpoints");
    let site = ours[0].1.clone();

    let (status, kind, pdf) = fetch(
        base,
        &format!("/api/v1/sites/{site}/labels.pdf"),
        Some(&token),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(kind, "application/pdf");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("labels.pdf"), &pdf).unwrap();

    // The CJK font is in the file, as a subset (`ABCDEF+…`): it prints the same anywhere.
    let fonts = tool("pdffonts", &["labels.pdf"], work.path());
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(!rows.is_empty(), "no fonts in the PDF:\n{fonts}");
    for row in &rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        let name = cols[0];
        let (tag, family) = name.split_once('+').unwrap_or(("", name));
        assert!(
            tag.len() == 6 && tag.chars().all(|c| c.is_ascii_uppercase()),
            "{name} is not a subset:\n{fonts}"
        );
        assert!(family.contains("WenQuanYi"), "{name}:\n{fonts}");
        // emb sub uni: the three columns before the object id.
        let n = cols.len();
        assert_eq!(&cols[n - 5..n - 2], ["yes", "yes", "yes"], "{row}");
    }

    // Every page's codes, decoded by an independent reader, are exactly the site's labels.
    tool(
        "pdftoppm",
        &["-r", "150", "-png", "labels.pdf", "page"],
        work.path(),
    );
    let mut pages: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    pages.sort();
    assert_eq!(pages.len(), 2, "17 labels at 12 a page");
    // zbarimg over a whole page of twelve codes now and then misses one, as no phone would: a
    // phone reads one label at a time. So each label's cell is cut out (the sheet's layout:
    // 3 × 4 cells of 62 × 64 mm, 4 mm apart, from 8 mm left and 10 mm down) and read alone.
    // Only QR codes are looked for: with every symbology on, zbarimg once read the printed
    // names as a one-letter linear barcode ("B") beside the label's code.
    let mut decoded = Vec::new();
    for page in 1..=pages.len() {
        for cell in 0..12 {
            let dots = 150.0 / 25.4;
            let (col, row) = (cell % 3, cell / 3);
            let px = |mm: f64| format!("{}", (mm * dots) as u32);
            let page_arg = page.to_string();
            let (x, y) = (8.0 + col as f64 * 66.0, 10.0 + row as f64 * 68.0);
            tool(
                "pdftoppm",
                &[
                    "-f",
                    &page_arg,
                    "-l",
                    &page_arg,
                    "-r",
                    "150",
                    "-x",
                    &px(x),
                    "-y",
                    &px(y),
                    "-W",
                    &px(62.0),
                    "-H",
                    &px(64.0),
                    "-png",
                    "-singlefile",
                    "labels.pdf",
                    "cell",
                ],
                work.path(),
            );
            let out = Command::new("zbarimg")
                .args(["--raw", "-q", "-Sdisable", "-Sqrcode.enable", "cell.png"])
                .current_dir(work.path())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let codes: Vec<&str> = text.lines().collect();
            // Every cell but those after the last label holds exactly one code.
            let expected = usize::from((page - 1) * 12 + cell < 17);
            assert_eq!(codes.len(), expected, "page {page} cell {cell}: {codes:?}");
            decoded.extend(codes.into_iter().map(str::to_owned));
        }
    }
    let want: BTreeSet<String> = ours.iter().map(|c| c.4.clone()).collect();
    assert_eq!(decoded.len(), want.len(), "each label once: {decoded:?}");
    assert_eq!(decoded.into_iter().collect::<BTreeSet<_>>(), want);

    // The names are text in the PDF (no missing glyphs), Chinese and English.
    let text = tool("pdftotext", &["labels.pdf", "-"], work.path());
    for (_, _, name, en, _) in &ours {
        assert!(
            text.contains(name.as_str()),
            "{name} missing from the PDF text"
        );
        assert!(text.contains(en.as_str()), "{en} missing from the PDF text");
    }
    assert!(
        text.contains("阳光花园") && text.contains("1 / 2"),
        "{text}"
    );

    // The same sheets as one SVG: A4 pages stacked, every name and token's code in it.
    let (status, kind, svg) = fetch(
        base,
        &format!("/api/v1/sites/{site}/labels.svg"),
        Some(&token),
    );
    assert_eq!((status, kind.as_str()), (200, "image/svg+xml"));
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.contains(r#"height="594mm""#), "two A4 pages stacked");
    for (_, _, name, _, _) in &ours {
        assert!(svg.contains(name.as_str()), "{name}");
    }

    // One label: the PNG reads back as its token, the SVG carries both names.
    let (id, _, name, en, qr) = &ours[0];
    let (status, kind, png) = fetch(
        base,
        &format!("/api/v1/checkpoints/{id}/label.png"),
        Some(&token),
    );
    assert_eq!((status, kind.as_str()), (200, "image/png"));
    std::fs::write(work.path().join("one.png"), png).unwrap();
    assert_eq!(
        tool(
            "zbarimg",
            &["--raw", "-q", "-Sdisable", "-Sqrcode.enable", "one.png"],
            work.path()
        )
        .trim_end(),
        qr
    );
    let (status, kind, one) = fetch(
        base,
        &format!("/api/v1/checkpoints/{id}/label.svg"),
        Some(&token),
    );
    assert_eq!((status, kind.as_str()), (200, "image/svg+xml"));
    let one = String::from_utf8(one).unwrap();
    assert!(
        one.contains(name.as_str()) && one.contains(en.as_str()),
        "{one}"
    );

    // Who may not: patrol staff (403), no token (401), another site's caller (404 for ours),
    // and our supervisor asking for the other site's (404).
    let patrol = http.token("demo-patrol", "demo");
    let theirs = http.token("cuihu-super", OTHER_SITE_PASSWORD);
    let other = checkpoints(&http, &theirs);
    let (other_cp, other_site) = (other[0].0.clone(), other[0].1.clone());
    let error = |status: u16, body: &[u8]| {
        let v: Value = serde_json::from_slice(body).unwrap();
        (
            status,
            v["error"]["code"].as_str().unwrap_or_default().to_owned(),
        )
    };
    for path in [
        format!("/api/v1/sites/{site}/labels.pdf"),
        format!("/api/v1/sites/{site}/labels.svg"),
        format!("/api/v1/checkpoints/{id}/label.png"),
        format!("/api/v1/checkpoints/{id}/label.svg"),
    ] {
        let (s, _, b) = fetch(base, &path, Some(&patrol));
        assert_eq!(error(s, &b), (403, "forbidden".to_owned()), "patrol {path}");
        let (s, _, b) = fetch(base, &path, None);
        assert_eq!(
            error(s, &b),
            (401, "unauthorized".to_owned()),
            "no token {path}"
        );
        let (s, _, b) = fetch(base, &path, Some(&theirs));
        assert_eq!(
            error(s, &b),
            (404, "not_found".to_owned()),
            "other site's {path}"
        );
    }
    for path in [
        format!("/api/v1/sites/{other_site}/labels.pdf"),
        format!("/api/v1/checkpoints/{other_cp}/label.png"),
    ] {
        let (s, _, b) = fetch(base, &path, Some(&token));
        assert_eq!(
            error(s, &b),
            (404, "not_found".to_owned()),
            "ours asking {path}"
        );
        // Their supervisor prints their own.
        let (s, _, _) = fetch(base, &path, Some(&theirs));
        assert_eq!(s, 200, "{path}");
    }
}
