use serde_json::json;

use super::*;
use crate::issue::Status;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn every_body() -> Vec<OpBody> {
    let issue_id = IssueId::new();
    let photo = "0f".repeat(32);
    vec![
        OpBody::PatrolStart(PatrolStart {
            run_id: RunId::new(),
            route_id: RouteId::new(),
        }),
        OpBody::PatrolVisit(PatrolVisit {
            visit_id: VisitId::new(),
            run_id: RunId::new(),
            checkpoint_id: CheckpointId::new(),
            method: VisitMethod::Qr,
            token: Some("PTRL1.x.y".into()),
            reason: None,
            flags: vec![ScanFlag::RepeatScan { secs: 12 }],
        }),
        OpBody::PatrolResult(PatrolResult {
            result_id: ResultId::new(),
            visit_id: VisitId::new(),
            item_key: "meter.vacant_water".into(),
            outcome: Outcome::Fault,
            reading: Some(0.4),
            note: Some("空置户水表在走".into()),
            photos: vec![photo.clone()],
        }),
        OpBody::PatrolFinish(PatrolFinish {
            run_id: RunId::new(),
            missed: vec![Missed {
                checkpoint_id: CheckpointId::new(),
                reason: "天台门锁了".into(),
            }],
            flags: vec![],
        }),
        OpBody::IssueReport(IssueReport {
            issue_id,
            site_id: SiteId::new(),
            zone_id: Some(ZoneId::new()),
            checkpoint_id: None,
            visit_id: None,
            item_key: Some("stairwell.lights".into()),
            category: Category::Facility,
            severity: Severity::Routine,
            title: "楼梯灯不亮".into(),
            note: None,
            photos: vec![photo.clone()],
            observed_at: t("2026-11-22T09:15:00+08:00"),
            source: Source::Patrol,
            fixed_on_spot: false,
        }),
        OpBody::IssueAssign(IssueAssign {
            issue_id,
            assignee_id: UserId::new(),
        }),
        OpBody::IssueStart(IssueStart { issue_id }),
        OpBody::IssueResolve(IssueResolve {
            issue_id,
            note: Some("换灯".into()),
            photos: vec![photo.clone()],
        }),
        OpBody::IssueVerify(IssueVerify {
            issue_id,
            accepted: true,
            note: None,
            signature: Some("aa".repeat(32)),
            photos: vec![],
        }),
        OpBody::ExtensionRequest(ExtensionRequestOp {
            issue_id,
            reason: "等配件".into(),
            due_at: t("2026-11-28T09:15:00+08:00"),
        }),
        OpBody::ExtensionDecide(ExtensionDecideOp {
            issue_id,
            approved: true,
            note: None,
        }),
        OpBody::IssueComment(IssueComment {
            issue_id,
            text: "已联系厂家".into(),
        }),
        OpBody::IssueFollowUp(IssueFollowUp {
            issue_id,
            satisfied: true,
            note: Some("住户表示满意".into()),
        }),
        OpBody::AlertAck(AlertAck {
            alert_id: crate::ids::AlertId::new(),
            note: Some("保安队王师傅 08:40 到场，燃气阀已关闭".into()),
        }),
    ]
}

#[test]
fn every_op_kind_round_trips_through_the_envelope() {
    let bodies = every_body();
    let kinds: Vec<_> = bodies.iter().map(OpBody::kind).collect();
    assert_eq!(kinds, OpBody::KINDS);
    for (seq, body) in bodies.into_iter().enumerate() {
        let op = Op::new(
            OpId::new(),
            seq as u64 + 1,
            t("2026-11-22T01:00:00Z"),
            &body,
        );
        let wire = serde_json::to_string(&op).unwrap();
        let back: Op = serde_json::from_str(&wire).unwrap();
        assert_eq!(back.decode().unwrap(), body, "{wire}");
        // The body travels bare, not tagged.
        assert!(back.body.get("kind").is_none());
    }
}

#[test]
fn the_documented_push_decodes_and_ignores_unknown_fields() {
    let req = json!({
        "device_id": "01937a3e-5a5e-7c3b-9a7e-1d2f3c4b5a69",
        "device_time": "2026-11-22T09:15:00+08:00",
        "app_version": "2.3.0",
        "ops": [{
            "op_id": "01937a3e-5a5e-7c3b-9a7e-1d2f3c4b5a70",
            "seq": 41,
            "kind": "issue.report",
            "at": "2026-11-22T09:14:00+08:00",
            "priority": "high",
            "body": {
                "issue_id": "01937a3e-5a5e-7c3b-9a7e-1d2f3c4b5a71",
                "site_id": "01937a3e-5a5e-7c3b-9a7e-1d2f3c4b5a72",
                "zone_id": null,
                "checkpoint_id": null,
                "visit_id": null,
                "category": "fire",
                "severity": "major",
                "title": "消防通道堵塞",
                "note": "电动车停在通道",
                "photos": [],
                "observed_at": "2026-11-22T09:14:00+08:00",
                "source": "patrol",
                "fixed_on_spot": false,
                "weather": "rain"
            }
        }]
    });
    let push: PushRequest = serde_json::from_value(req).unwrap();
    assert_eq!(push.device_time, t("2026-11-22T01:15:00Z"));
    assert_eq!(push.ops[0].seq, 41);
    let OpBody::IssueReport(r) = push.ops[0].decode().unwrap() else {
        panic!("not a report")
    };
    assert_eq!((r.category, r.severity), (Category::Fire, Severity::Major));
}

#[test]
fn bad_ops_are_named_not_guessed() {
    let mut op = Op::new(
        OpId::new(),
        1,
        t("2026-11-22T01:00:00Z"),
        &OpBody::IssueStart(IssueStart {
            issue_id: IssueId::new(),
        }),
    );
    op.kind = "issue.teleport".into();
    let err = op.decode().unwrap_err();
    assert!(matches!(err, OpDecodeError::UnknownKind(ref k) if k == "issue.teleport"));
    assert!(err.to_string().contains("issue.teleport"));
    op.kind = "issue.assign".into(); // body lacks assignee_id
    let err = op.decode().unwrap_err();
    assert!(err.to_string().contains("assignee_id"), "{err}");
}

#[test]
fn blobs_of_an_op_include_the_signature() {
    let bodies = every_body();
    let verify = bodies.iter().find(|b| b.kind() == "issue.verify").unwrap();
    assert_eq!(verify.blobs(), ["aa".repeat(32)]);
    let result = bodies.iter().find(|b| b.kind() == "patrol.result").unwrap();
    assert_eq!(result.blobs(), ["0f".repeat(32)]);
    assert!(bodies[0].blobs().is_empty());
}

#[test]
fn push_results_read_as_documented() {
    let resp = PushResponse {
        server_time: t("2026-11-22T01:15:01Z"),
        results: vec![
            OpResult {
                op_id: OpId::new(),
                status: OpStatus::Applied,
                code: None,
                message: None,
            },
            OpResult {
                op_id: OpId::new(),
                status: OpStatus::Rejected,
                code: Some("own_fix".into()),
                message: Some("不能验收自己完成的维修 / you cannot verify your own fix".into()),
            },
        ],
    };
    let v = serde_json::to_value(&resp).unwrap();
    assert_eq!(v["results"][0]["status"], "applied");
    assert!(v["results"][0].get("code").is_none());
    assert_eq!(v["results"][1]["status"], "rejected");
    assert_eq!(v["server_time"], "2026-11-22T01:15:01Z");
}

#[test]
fn pulled_issues_carry_the_documented_fields() {
    let issue = Issue {
        id: IssueId::new(),
        site_id: SiteId::new(),
        zone_id: None,
        checkpoint_id: None,
        visit_id: None,
        category: Category::Security,
        severity: Severity::Urgent,
        team: Team::Security,
        title: "楼道有焦味".into(),
        note: None,
        photos: vec![],
        source: Source::Patrol,
        observed_at: t("2026-11-22T01:00:00Z"),
        due_at: t("2026-11-22T05:00:00Z"),
        status: Status::Open,
        reported_by: UserId::new(),
        assignee_id: None,
        resolved_by: None,
        verified_by: None,
        fixed_on_spot: false,
        extension: None,
        escalations: vec![crate::issue::EscalationReason::Urgent],
        follow_up: None,
    };
    let change = Change::of(&Entity::Issue(issue.clone()));
    assert_eq!(change.entity, "issue");
    let data = change.data.as_ref().unwrap();
    for field in [
        "id",
        "site_id",
        "status",
        "category",
        "severity",
        "team",
        "title",
        "observed_at",
        "due_at",
        "assignee_id",
        "reported_by",
        "escalated",
    ] {
        assert!(data.get(field).is_some(), "issue data lacks {field}");
    }
    assert_eq!(data["escalated"], true);
    assert_eq!(data["status"], "open");
    assert_eq!(change.decode().unwrap(), Some(Entity::Issue(issue.clone())));
    // A kind from a newer server and a deletion are both skipped, not errors.
    let future = Change {
        entity: "parking_permit".into(),
        id: "x".into(),
        data: Some(json!({})),
    };
    assert_eq!(future.decode().unwrap(), None);
    assert_eq!(Change::gone("issue", issue.id).decode().unwrap(), None);
    let broken = Change {
        entity: "zone".into(),
        id: "z".into(),
        data: Some(json!({"id": 3})),
    };
    assert!(broken.decode().unwrap_err().to_string().contains("zone"));
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let login = LoginRequest {
        username: "demo-patrol".into(),
        password: "hunter2".into(),
    };
    assert!(!format!("{login:?}").contains("hunter2"));
    let refresh = RefreshRequest {
        refresh_token: "r-secret".into(),
    };
    assert!(!format!("{refresh:?}").contains("r-secret"));
    let tokens = TokenResponse {
        access_token: "a-secret".into(),
        refresh_token: "r-secret".into(),
        expires_in: 900,
        user: SessionUser {
            id: UserId::new(),
            username: "demo-patrol".into(),
            role: Role::Patrol,
            team: None,
            sites: vec![],
        },
    };
    let dbg = format!("{tokens:?}");
    assert!(
        !dbg.contains("a-secret") && !dbg.contains("r-secret"),
        "{dbg}"
    );
}

#[test]
fn errors_have_the_documented_shape() {
    let v = serde_json::to_value(ErrorBody::new(
        "missing_blob",
        "照片未上传 / photo not uploaded",
    ))
    .unwrap();
    assert_eq!(
        v,
        json!({"error": {"code": "missing_blob", "message": "照片未上传 / photo not uploaded"}})
    );
}

#[test]
fn a_refusal_quotes_little_of_what_was_sent() {
    let op = |kind: &str, body: serde_json::Value| Op {
        op_id: OpId::new(),
        seq: 1,
        kind: kind.to_owned(),
        at: t("2026-11-22T09:15:00+08:00"),
        body,
    };
    let long = "k".repeat(100_000);
    let e = op(&long, serde_json::json!({})).decode().unwrap_err();
    assert!(e.to_string().len() < 400, "{} bytes", e.to_string().len());
    let e = op(
        "issue.comment",
        serde_json::json!({"issue_id": "x".repeat(100_000), "text": "t"}),
    )
    .decode()
    .unwrap_err();
    assert!(e.to_string().len() < 600, "{} bytes", e.to_string().len());
    assert_eq!(OpBody::known_kind(&long), "unknown");
    assert_eq!(OpBody::known_kind("issue.comment"), "issue.comment");
}
