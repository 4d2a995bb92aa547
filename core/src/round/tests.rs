//! Every rule of the round state machine, each refusal with its code.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::checklist::{Catalogue, ItemKind};
use crate::demo::{self, Estate};
use crate::ids::{CheckpointId, ResultId, RunId, VisitId};
use crate::labels::SiteKey;
use crate::patrol::Outcome;
use crate::site::ZoneKind;

struct World {
    e: Estate,
    other: Estate,
    patrol: Actor,
    known: BTreeSet<CheckpointId>,
}

fn world() -> World {
    let e = demo::estate("demo", "阳光花园", &SiteKey::generate().unwrap());
    let other = demo::estate("other", "翠湖苑", &SiteKey::generate().unwrap());
    let patrol = Actor::from(e.user("demo-patrol").unwrap());
    let known = e.checkpoints.iter().map(|c| c.id).collect();
    World {
        e,
        other,
        patrol,
        known,
    }
}

fn t(secs: i64) -> Timestamp {
    "2026-11-23T09:00:00+08:00".parse::<Timestamp>().unwrap() + SignedDuration::from_secs(secs)
}

impl World {
    fn actor(&self, username: &str) -> Actor {
        Actor::from(self.e.user(username).unwrap())
    }

    fn route(&self) -> &Route {
        &self.e.routes[0]
    }

    fn checkpoint(&self, n: usize) -> &Checkpoint {
        let id = self.route().checkpoint_ids[n];
        self.e.checkpoints.iter().find(|c| c.id == id).unwrap()
    }

    fn run(&self) -> PatrolRun {
        start(&self.patrol, self.route(), RunId::new(), t(0)).unwrap()
    }

    fn spot<'a>(&'a self, cp: &'a Checkpoint, others: &'a [Site]) -> Spot<'a> {
        Spot {
            checkpoint_id: cp.id,
            checkpoint: Some(cp),
            others,
            known: &self.known,
        }
    }

    fn round<'a>(&'a self, run: &'a PatrolRun) -> Round<'a> {
        Round {
            run,
            route: self.route(),
            site: &self.e.site,
        }
    }

    fn scan(
        &self,
        run: &PatrolRun,
        n: usize,
        earlier: &[Visit],
        at: i64,
    ) -> Result<Visit, RoundError> {
        let cp = self.checkpoint(n);
        self.round(run).visit(
            &self.patrol,
            self.spot(cp, &[]),
            How::Scanned(&cp.qr_token),
            earlier,
            VisitId::new(),
            t(at),
        )
    }

    fn template(&self, visit: &Visit) -> &'static Template {
        let cp = self
            .e
            .checkpoints
            .iter()
            .find(|c| c.id == visit.checkpoint_id)
            .unwrap();
        let kind = self
            .e
            .zones
            .iter()
            .find(|z| z.id == cp.zone_id)
            .unwrap()
            .kind;
        Catalogue::standard().for_zone(kind).unwrap()
    }
}

#[test]
fn technicians_and_admins_do_not_walk_and_nobody_walks_another_site() {
    let w = world();
    assert_eq!(
        start(&w.actor("demo-tech"), w.route(), RunId::new(), t(0))
            .unwrap_err()
            .code(),
        "not_a_patrol_role"
    );
    assert_eq!(
        start(&w.actor("demo-admin"), w.route(), RunId::new(), t(0))
            .unwrap_err()
            .code(),
        "not_a_patrol_role"
    );
    let e = start(&w.patrol, &w.other.routes[0], RunId::new(), t(0)).unwrap_err();
    assert_eq!(e.code(), "other_site");
    for walker in ["demo-patrol", "demo-super", "demo-manager"] {
        let run = start(&w.actor(walker), w.route(), RunId::new(), t(0)).unwrap();
        assert_eq!(run.patroller_id, w.actor(walker).user_id);
        assert_eq!(run.site_id, w.e.site.id);
    }
}

#[test]
fn only_the_patroller_adds_to_an_open_round() {
    let w = world();
    let mut run = w.run();
    let cp = w.checkpoint(0);
    let boss = w.actor("demo-super");
    let e = w
        .round(&run)
        .visit(
            &boss,
            w.spot(cp, &[]),
            How::Scanned(&cp.qr_token),
            &[],
            VisitId::new(),
            t(5),
        )
        .unwrap_err();
    assert_eq!(e.code(), "not_your_round");
    run.finished_at = Some(t(9));
    assert_eq!(
        w.scan(&run, 0, &[], 10).unwrap_err().code(),
        "round_finished"
    );
}

#[test]
fn a_scan_must_be_a_good_label_of_the_visited_checkpoint() {
    let w = world();
    let run = w.run();
    let cp = w.checkpoint(0);
    let visit = |token: &str, others: &[Site]| {
        w.round(&run)
            .visit(
                &w.patrol,
                w.spot(cp, others),
                How::Scanned(token),
                &[],
                VisitId::new(),
                t(5),
            )
            .map_err(|e| e.code())
    };
    assert!(visit(&cp.qr_token, &[]).is_ok());
    assert_eq!(visit("https://example.com", &[]), Err("not_a_label"));
    assert_eq!(visit("PTRL1.garbage", &[]), Err("damaged_label"));
    // One character of the signature changed.
    let mut forged = cp.qr_token.clone().into_bytes();
    let at = forged.len() - 20;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(visit(&forged, &[]), Err("bad_signature"));
    let theirs = &w.other.checkpoints[0].qr_token;
    assert_eq!(visit(theirs, &[]), Err("bad_signature"));
    assert_eq!(
        visit(theirs, std::slice::from_ref(&w.other.site)),
        Err("other_site_label")
    );
    // A genuine label of this site, but of another checkpoint than the one the visit names.
    assert_eq!(visit(&w.checkpoint(1).qr_token, &[]), Err("label_mismatch"));
    assert_eq!(visit(&"P".repeat(600), &[]), Err("too_long"));
}

/// A checkpoint's own label, as issued, is taken without verifying its signature again; the
/// shortcut answers as the full reading would for every label of the site, and a checkpoint
/// record of another site, or a token that differs at all, is still read and verified.
#[test]
fn a_checkpoints_own_label_is_known_without_verifying_it_again() {
    let w = world();
    let run = w.run();
    for cp in &w.e.checkpoints {
        let read = read_label(&cp.qr_token, &w.e.site, &[], &w.known);
        assert_eq!(read, Ok(cp.id), "{}", cp.name);
        let spot = w.spot(cp, &[]);
        assert!(w.round(&run).issued(cp, spot.checkpoint_id, &cp.qr_token));
    }
    let cp = w.checkpoint(0);
    let visit = |checkpoint: &Checkpoint, token: &str| {
        let spot = Spot {
            checkpoint_id: cp.id,
            checkpoint: Some(checkpoint),
            others: &[],
            known: &w.known,
        };
        w.round(&run)
            .visit(
                &w.patrol,
                spot,
                How::Scanned(token),
                &[],
                VisitId::new(),
                t(5),
            )
            .map_err(|e| e.code())
    };
    // The other site's checkpoint record carrying its own label, under this checkpoint's id:
    // not this site's issue, so it is read, and its signature is not this site's.
    let mut foreign = w.other.checkpoints[0].clone();
    foreign.id = cp.id;
    assert_eq!(
        visit(&foreign, &foreign.qr_token.clone()),
        Err("bad_signature")
    );
    // A record whose token is not what was scanned (a label printed before the site's new
    // key): the scan is read, and a forgery is refused.
    let mut forged = cp.qr_token.clone().into_bytes();
    let at = forged.len() - 20;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(visit(cp, &forged), Err("bad_signature"));
    assert!(visit(cp, &cp.qr_token).is_ok());
}

#[test]
fn a_visit_is_to_a_checkpoint_of_the_site_on_the_route() {
    let w = world();
    let run = w.run();
    let by_hand = |spot: Spot<'_>, reason: &str| {
        w.round(&run)
            .visit(
                &w.patrol,
                spot,
                How::ByHand(reason),
                &[],
                VisitId::new(),
                t(5),
            )
            .map_err(|e| e.code())
    };
    let cp = w.checkpoint(2);
    assert!(by_hand(w.spot(cp, &[]), "标签被撕掉").is_ok());
    assert_eq!(by_hand(w.spot(cp, &[]), "  "), Err("reason_missing"));
    assert_eq!(
        by_hand(w.spot(cp, &[]), &"长".repeat(1001)),
        Err("too_long")
    );
    // Another site's checkpoint, or an id that names nothing.
    let theirs = &w.other.checkpoints[0];
    assert_eq!(by_hand(w.spot(theirs, &[]), "x"), Err("unknown_checkpoint"));
    let nothing = Spot {
        checkpoint_id: CheckpointId::new(),
        checkpoint: None,
        others: &[],
        known: &w.known,
    };
    assert_eq!(by_hand(nothing, "x"), Err("unknown_checkpoint"));
    // A checkpoint of this site on the other route.
    let grounds = w.e.routes[1].checkpoint_ids[0];
    let off = w.e.checkpoints.iter().find(|c| c.id == grounds).unwrap();
    assert_eq!(by_hand(w.spot(off, &[]), "x"), Err("not_on_route"));
    assert_eq!(
        w.round(&run)
            .visit(
                &w.patrol,
                w.spot(off, &[]),
                How::Scanned(&off.qr_token),
                &[],
                VisitId::new(),
                t(5)
            )
            .unwrap_err()
            .code(),
        "not_on_route"
    );
}

#[test]
fn plausibility_flags_come_from_the_rounds_own_visits() {
    let w = world();
    let run = w.run();
    let first = w.scan(&run, 0, &[], 60).unwrap();
    assert!(first.flags.is_empty());
    let fast = w.scan(&run, 1, std::slice::from_ref(&first), 65).unwrap();
    assert!(
        matches!(fast.flags[..], [ScanFlag::TooFast { .. }]),
        "{:?}",
        fast.flags
    );
    // Another round's visits do not count.
    let mut elsewhere = first.clone();
    elsewhere.run_id = RunId::new();
    assert!(w.scan(&run, 1, &[elsewhere], 65).unwrap().flags.is_empty());
}

#[test]
fn answers_are_judged_by_their_item() {
    let w = world();
    let run = w.run();
    let visit = w.scan(&run, 0, &[], 60).unwrap();
    let template = w.template(&visit);
    let answer = |key: &str, a: Answer| {
        w.round(&run)
            .answer(&w.patrol, &visit, template, key, &a, ResultId::new())
    };
    let check = template
        .items
        .iter()
        .find(|i| matches!(i.kind, ItemKind::Check))
        .unwrap();
    let ok = Answer {
        outcome: Some(Outcome::Ok),
        ..Answer::default()
    };
    assert_eq!(answer(&check.key, ok.clone()).unwrap().outcome, Outcome::Ok);
    assert_eq!(
        answer("no.such.item", ok.clone()).unwrap_err().code(),
        "unknown_item"
    );
    assert_eq!(
        answer(&check.key, Answer::default()).unwrap_err().code(),
        "outcome_missing"
    );
    let long_note = Answer {
        note: Some("字".repeat(4001)),
        ..ok.clone()
    };
    assert_eq!(
        answer(&check.key, long_note).unwrap_err().code(),
        "too_long"
    );
    let photographed = template.items.iter().find(|i| i.photo_on_fault).unwrap();
    let fault = Answer {
        outcome: Some(Outcome::Fault),
        ..Answer::default()
    };
    assert_eq!(
        answer(&photographed.key, fault).unwrap_err().code(),
        "photo_required"
    );
    let eleven = Answer {
        outcome: Some(Outcome::Ok),
        photos: vec!["ab".repeat(32); 11],
        ..Answer::default()
    };
    assert_eq!(
        answer(&check.key, eleven).unwrap_err().code(),
        "too_many_photos"
    );
    // A visit of another round is not this round's to answer.
    let mut stray = visit.clone();
    stray.run_id = RunId::new();
    assert_eq!(
        w.round(&run)
            .answer(
                &w.patrol,
                &stray,
                template,
                &check.key,
                &ok,
                ResultId::new()
            )
            .unwrap_err()
            .code(),
        "unknown_visit"
    );
}

#[test]
fn a_reading_out_of_range_is_a_fault_whatever_was_ticked() {
    let w = world();
    let meters =
        w.e.routes
            .iter()
            .flat_map(|r| r.checkpoint_ids.iter().map(move |c| (r, *c)))
            .find(|(_, c)| w.e.zone_of(*c).unwrap().kind == ZoneKind::Meter);
    let Some((route, cp)) = meters else {
        panic!("the demo estate has a meter room");
    };
    let run = start(&w.patrol, route, RunId::new(), t(0)).unwrap();
    let round = Round {
        run: &run,
        route,
        site: &w.e.site,
    };
    let cp = w.e.checkpoints.iter().find(|c| c.id == cp).unwrap();
    let visit = round
        .visit(
            &w.patrol,
            w.spot(cp, &[]),
            How::Scanned(&cp.qr_token),
            &[],
            VisitId::new(),
            t(60),
        )
        .unwrap();
    let template = w.template(&visit);
    let (item, max) = template
        .items
        .iter()
        .find_map(|i| match i.kind {
            ItemKind::Reading {
                normal_max: Some(max),
                ..
            } => Some((i, max)),
            _ => None,
        })
        .unwrap();
    let claimed_ok = Answer {
        outcome: Some(Outcome::Ok),
        reading: Some(max + 100.0),
        photos: vec!["ab".repeat(32)],
        ..Answer::default()
    };
    let r = round
        .answer(
            &w.patrol,
            &visit,
            template,
            &item.key,
            &claimed_ok,
            ResultId::new(),
        )
        .unwrap();
    assert_eq!(r.outcome, Outcome::Fault);
    let nan = Answer {
        reading: Some(f64::NAN),
        ..Answer::default()
    };
    assert_eq!(
        round
            .answer(
                &w.patrol,
                &visit,
                template,
                &item.key,
                &nan,
                ResultId::new()
            )
            .unwrap_err()
            .code(),
        "reading_invalid"
    );
}

#[test]
fn a_finished_round_says_why_each_missed_checkpoint_was_missed() {
    let w = world();
    let run = w.run();
    let mut visits = Vec::new();
    for n in 0..w.route().checkpoint_ids.len() - 1 {
        let v = w.scan(&run, n, &visits, 100 * (n as i64 + 1)).unwrap();
        visits.push(v);
    }
    let last = w.checkpoint(w.route().checkpoint_ids.len() - 1);
    let name_of = |id: CheckpointId| {
        w.e.checkpoints
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.name.clone())
    };
    let finish = |missed: &[Missed]| {
        w.round(&run)
            .finish(&w.patrol, &visits, missed, t(5000), &name_of)
    };
    let e = finish(&[]).unwrap_err();
    assert_eq!(e.code(), "missed_without_reason");
    assert!(e.to_string().contains(&last.name), "{e}");
    let blank = [Missed {
        checkpoint_id: last.id,
        reason: " ".into(),
    }];
    assert_eq!(finish(&blank).unwrap_err().code(), "missed_without_reason");
    let long = [Missed {
        checkpoint_id: last.id,
        reason: "长".repeat(1001),
    }];
    assert_eq!(finish(&long).unwrap_err().code(), "too_long");
    // Reasons for visited checkpoints or strangers are dropped, not kept.
    let missed = [
        Missed {
            checkpoint_id: last.id,
            reason: "天台门维修中".into(),
        },
        Missed {
            checkpoint_id: visits[0].checkpoint_id,
            reason: "多余".into(),
        },
        Missed {
            checkpoint_id: CheckpointId::new(),
            reason: "陌生".into(),
        },
    ];
    let done = finish(&missed).unwrap();
    assert_eq!(done.missed, missed[..1]);
    assert_eq!(done.finished_at, Some(t(5000)));
    assert!(done.flags.is_empty(), "{:?}", done.flags);
    let hasty = w
        .round(&run)
        .finish(&w.patrol, &visits, &missed, t(100), &name_of)
        .unwrap();
    assert!(matches!(hasty.flags[..], [ScanFlag::RoundTooShort { .. }]));
    let too_many = vec![missed[0].clone(); 1001];
    assert_eq!(finish(&too_many).unwrap_err().code(), "too_many");
}

#[test]
fn a_device_cannot_hide_a_flag_nor_repeat_one() {
    let server = vec![ScanFlag::RepeatScan { secs: 3 }];
    let device = [
        ScanFlag::RepeatScan { secs: 4 },
        ScanFlag::TooFast {
            from: CheckpointId::new(),
            secs: 1,
            min_secs: 30,
        },
    ];
    let merged = merge_flags(server.clone(), &device);
    assert_eq!(merged.len(), 2);
    assert_eq!(merged[0], server[0], "the server's reading of a kind wins");
    assert_eq!(
        merge_flags(server.clone(), &[]),
        server,
        "leaving it out hides nothing"
    );
}

#[test]
fn every_refusal_reads_in_chinese_then_english() {
    let errors = [
        RoundError::NotAPatrolRole,
        RoundError::OtherSite,
        RoundError::UnknownRoute,
        RoundError::UnknownRun,
        RoundError::UnknownVisit,
        RoundError::UnknownCheckpoint,
        RoundError::RunExists,
        RoundError::VisitExists,
        RoundError::NotYourRound,
        RoundError::RoundFinished,
        RoundError::ReasonRequired,
        RoundError::NotOnRoute {
            name: "1栋".into()
        },
        RoundError::LabelMismatch,
        RoundError::UnknownItem { key: "k".into() },
        RoundError::MissedWithoutReason {
            name: "1栋".into()
        },
    ];
    let mut codes = BTreeSet::new();
    for e in errors {
        let text = e.to_string();
        let (zh, en) = text.split_once(" / ").unwrap();
        assert!(!zh.is_ascii(), "{text}");
        assert!(en.is_ascii() || en.contains("1栋"), "{text}");
        assert!(codes.insert(e.code()), "codes are distinct: {}", e.code());
    }
}
