//! `/api/openapi.json` is generated from the handlers: every route is there with its method,
//! every schema it refers to is defined, and the sync endpoints require the bearer token.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use patrol_e2e::Server;
use serde_json::Value;

fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "$ref" {
                    out.push(v.as_str().unwrap());
                }
                refs(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_document_covers_the_api_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let doc: Value = ureq::get(&format!("{}/api/openapi.json", server.base_url))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/sync/push", "post"),
        ("/api/v1/sync/pull", "get"),
        ("/api/v1/blobs/{sha256}", "head"),
        ("/api/v1/blobs/{sha256}", "put"),
        ("/api/v1/issues", "get"),
        ("/api/v1/issues/{id}", "get"),
        ("/api/openapi.json", "get"),
        ("/healthz", "get"),
        ("/metrics", "get"),
        ("/api/v1/reports/monthly", "get"),
        ("/api/v1/sites/{id}/archive", "get"),
        ("/api/v1/sites/{id}/archive/{month}/{file}", "get"),
        ("/api/v1/checkpoints/{id}/label.png", "get"),
        ("/api/v1/checkpoints/{id}/label.svg", "get"),
        ("/api/v1/sites/{id}/labels.svg", "get"),
        ("/api/v1/sites/{id}/labels.pdf", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    let schemas = &doc["components"]["schemas"];
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 20);
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            schemas[name].is_object(),
            "{r} is referred to but not defined"
        );
    }
    for name in [
        "PushRequest",
        "PushResponse",
        "Op",
        "OpResult",
        "PullResponse",
        "Change",
        "Issue",
        "AuditEntry",
        "TokenResponse",
        "ErrorBody",
    ] {
        assert!(schemas[name].is_object(), "schema {name} missing");
    }
    let push = &doc["paths"]["/api/v1/sync/push"]["post"];
    assert!(push["security"].to_string().contains("bearer"));
    assert!(push["responses"]["409"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // A report comes as a workbook or a CSV, and says every way it is refused.
    let report = &doc["paths"]["/api/v1/reports/monthly"]["get"];
    let formats = &report["responses"]["200"]["content"];
    assert!(
        formats["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"].is_object()
    );
    assert!(formats["text/csv"].is_object());
    for status in ["400", "401", "403", "404"] {
        assert!(report["responses"][status].is_object(), "report {status}");
    }
    let params: Vec<&str> = report["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["site", "month", "format", "part"]);
    // Field names are the contract.
    let op = &schemas["Op"]["properties"];
    for field in ["op_id", "seq", "kind", "at", "body"] {
        assert!(op[field].is_object(), "Op.{field}");
    }
}
