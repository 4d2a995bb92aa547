//! Checklists: what to look at in each kind of place, and the standard catalogue built from the
//! estate's patrol procedure (004 §4.4–4.6). The catalogue is data (`catalogue/standard.toml`,
//! embedded in the binary), not code.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::TemplateId;
use crate::issue::{Category, Severity};
use crate::patrol::Outcome;
use crate::site::ZoneKind;
use crate::text::Text;

/// How an item is checked (004 §4.3): look, listen, touch, ask.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// 看: observe.
    Look,
    /// 听: listen to equipment running.
    Listen,
    /// 摸: touch to feel how equipment is.
    Touch,
    /// 调查了解: ask residents or staff.
    Ask,
}

impl Method {
    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            Method::Look => Text::new("看", "Look"),
            Method::Listen => Text::new("听", "Listen"),
            Method::Touch => Text::new("摸", "Touch"),
            Method::Ask => Text::new("调查了解", "Ask"),
        }
    }
}

/// What kind of answer an item takes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ItemKind {
    /// ok / fault / not applicable.
    Check,
    /// A number read off equipment, with its unit and normal range.
    Reading {
        /// Unit, e.g. `MPa`, `kWh`.
        unit: String,
        /// Lowest normal value, inclusive.
        #[serde(default)]
        normal_min: Option<f64>,
        /// Highest normal value, inclusive.
        #[serde(default)]
        normal_max: Option<f64>,
    },
    /// Free text (an observation to write down).
    Text,
}

impl ItemKind {
    /// Whether a reading is inside the normal range (always true for other kinds).
    pub fn in_range(&self, value: f64) -> bool {
        match self {
            ItemKind::Reading {
                normal_min,
                normal_max,
                ..
            } => {
                value.is_finite()
                    && normal_min.is_none_or(|min| value >= min)
                    && normal_max.is_none_or(|max| value <= max)
            }
            _ => true,
        }
    }
}

/// What a fault on an item becomes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The issue category (and so the team).
    pub category: Category,
    /// The issue severity (and so the SLA).
    pub severity: Severity,
}

/// One thing to check at a checkpoint.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecklistItem {
    /// Stable key, unique in the catalogue (`stairwell.lights`); results refer to it.
    pub key: String,
    /// The question.
    pub text: Text,
    /// How to check it.
    pub method: Method,
    /// What the answer is.
    #[serde(flatten)]
    pub kind: ItemKind,
    /// A fault cannot be saved without a photo.
    #[serde(default)]
    pub photo_on_fault: bool,
    /// What a fault becomes.
    pub fault: FaultRule,
    /// What to do on the spot, from the procedure.
    #[serde(default)]
    pub hint: Option<Text>,
}

/// An answer as the person gave it, before the rules judge it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    /// ok / fault / n.a., for check items (readings are judged by their range).
    pub outcome: Option<Outcome>,
    /// The number read, for reading items.
    pub reading: Option<f64>,
    /// Note or text answer.
    pub note: Option<String>,
    /// Photos taken (blob hashes).
    pub photos: Vec<String>,
}

/// Why an answer cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// A check item needs ok, fault or n.a.
    #[error("请选择正常、故障或不适用 / choose ok, fault or n.a.")]
    OutcomeMissing,
    /// A reading item needs a number.
    #[error("请填写读数 / enter the reading")]
    ReadingMissing,
    /// Not a finite number.
    #[error("读数无效 / the reading is not a number")]
    ReadingInvalid,
    /// A text item needs text.
    #[error("请填写内容 / enter the text")]
    TextMissing,
    /// This fault must be photographed.
    #[error("此项故障必须拍照 / this fault needs a photo")]
    PhotoRequired,
}

impl AnswerError {
    /// The machine-readable code of a refused answer.
    pub fn code(&self) -> &'static str {
        match self {
            AnswerError::OutcomeMissing => "outcome_missing",
            AnswerError::ReadingMissing => "reading_missing",
            AnswerError::ReadingInvalid => "reading_invalid",
            AnswerError::TextMissing => "text_missing",
            AnswerError::PhotoRequired => "photo_required",
        }
    }
}

impl ChecklistItem {
    /// Judge an answer: the outcome to record, or why it cannot be saved. A reading outside the
    /// normal range is a fault whatever the person ticked.
    pub fn judge(&self, answer: &Answer) -> Result<Outcome, AnswerError> {
        let outcome = match &self.kind {
            ItemKind::Check => answer.outcome.ok_or(AnswerError::OutcomeMissing)?,
            ItemKind::Reading { .. } => match (answer.reading, answer.outcome) {
                (_, Some(Outcome::Na)) => Outcome::Na,
                (None, _) => return Err(AnswerError::ReadingMissing),
                (Some(v), _) if !v.is_finite() => return Err(AnswerError::ReadingInvalid),
                (Some(_), Some(Outcome::Fault)) => Outcome::Fault,
                (Some(v), _) if self.kind.in_range(v) => Outcome::Ok,
                (Some(_), _) => Outcome::Fault,
            },
            ItemKind::Text => {
                if answer.note.as_deref().is_none_or(|t| t.trim().is_empty())
                    && answer.outcome != Some(Outcome::Na)
                {
                    return Err(AnswerError::TextMissing);
                }
                answer.outcome.unwrap_or(Outcome::Ok)
            }
        };
        if outcome == Outcome::Fault && self.photo_on_fault && answer.photos.is_empty() {
            return Err(AnswerError::PhotoRequired);
        }
        Ok(outcome)
    }
}

/// A checklist for one zone kind.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// Id; standard templates have a fixed id derived from kind and version, so that every
    /// server and phone agrees on it.
    pub id: TemplateId,
    /// The zone kind it is for.
    pub zone_kind: ZoneKind,
    /// Version; a changed checklist is a new version.
    pub version: u32,
    /// Title.
    pub name: Text,
    /// Where in the procedure it comes from.
    #[serde(default)]
    pub source: Option<String>,
    /// The items, in the order they are walked.
    pub items: Vec<ChecklistItem>,
}

impl Template {
    /// The item with this key.
    pub fn item(&self, key: &str) -> Option<&ChecklistItem> {
        self.items.iter().find(|i| i.key == key)
    }
}

/// The catalogue file as written: one entry may serve several zone kinds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    version: u32,
    template: Vec<TemplateSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateSpec {
    zone_kinds: Vec<ZoneKind>,
    name: TextSpec,
    #[serde(default)]
    source: Option<String>,
    item: Vec<ItemSpec>,
}

/// An item as written in the file: every field named, nothing unknown allowed, so a typo in a
/// hand-edited catalogue is an error rather than a silently missing rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemSpec {
    key: String,
    text: TextSpec,
    method: Method,
    kind: KindName,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    normal_min: Option<f64>,
    #[serde(default)]
    normal_max: Option<f64>,
    #[serde(default)]
    photo_on_fault: bool,
    fault: FaultSpec,
    #[serde(default)]
    hint: Option<TextSpec>,
}

/// Bilingual text as written in the file (strict: a misspelt language is an error).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextSpec {
    zh: String,
    en: String,
}

impl From<TextSpec> for Text {
    fn from(t: TextSpec) -> Text {
        Text::new(t.zh, t.en)
    }
}

/// A fault rule as written in the file (strict).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSpec {
    category: Category,
    severity: Severity,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindName {
    Check,
    Reading,
    Text,
}

impl ItemSpec {
    fn into_item(self) -> Result<ChecklistItem, String> {
        let kind = match self.kind {
            KindName::Reading => ItemKind::Reading {
                unit: self.unit.unwrap_or_default(),
                normal_min: self.normal_min,
                normal_max: self.normal_max,
            },
            other => {
                if self.unit.is_some() || self.normal_min.is_some() || self.normal_max.is_some() {
                    return Err(format!(
                        "{}: unit and range belong to readings only",
                        self.key
                    ));
                }
                match other {
                    KindName::Text => ItemKind::Text,
                    _ => ItemKind::Check,
                }
            }
        };
        Ok(ChecklistItem {
            key: self.key,
            text: self.text.into(),
            method: self.method,
            kind,
            photo_on_fault: self.photo_on_fault,
            fault: FaultRule {
                category: self.fault.category,
                severity: self.fault.severity,
            },
            hint: self.hint.map(Text::from),
        })
    }
}

/// A set of templates, one per zone kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    /// The templates.
    pub templates: Vec<Template>,
}

/// Namespace for the ids of standard templates.
const STANDARD_NAMESPACE: Uuid = Uuid::from_u128(0x5b0e_7a1c_3f2d_4e8a_9c61_0d2f_4a7b_8e13);

/// Why a catalogue is not usable.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The file does not parse.
    #[error("checklist catalogue does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    /// The file parses but breaks a rule.
    #[error("checklist catalogue is invalid: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl Catalogue {
    /// The standard catalogue from the patrol procedure, embedded in the binary.
    pub fn standard() -> &'static Catalogue {
        static STANDARD: OnceLock<Catalogue> = OnceLock::new();
        STANDARD.get_or_init(|| {
            Catalogue::from_toml(include_str!("../catalogue/standard.toml"))
                // The file is compiled in and checked by tests; failing here is a build defect.
                .unwrap_or_else(|e| panic!("embedded standard catalogue: {e}"))
        })
    }

    /// Parse and validate a catalogue file.
    pub fn from_toml(src: &str) -> Result<Catalogue, CatalogueError> {
        let file: CatalogueFile = toml::from_str(src)?;
        let mut templates = Vec::new();
        let mut problems = Vec::new();
        for spec in file.template {
            let items: Vec<ChecklistItem> = spec
                .item
                .into_iter()
                .filter_map(|i| i.into_item().map_err(|e| problems.push(e)).ok())
                .collect();
            for kind in &spec.zone_kinds {
                let id = Uuid::new_v5(
                    &STANDARD_NAMESPACE,
                    format!("{}/{}", kind.as_str(), file.version).as_bytes(),
                );
                templates.push(Template {
                    id: TemplateId(id),
                    zone_kind: *kind,
                    version: file.version,
                    name: Text::new(spec.name.zh.clone(), spec.name.en.clone()),
                    source: spec.source.clone(),
                    items: items.clone(),
                });
            }
        }
        let catalogue = Catalogue { templates };
        problems.extend(catalogue.problems());
        if problems.is_empty() {
            Ok(catalogue)
        } else {
            Err(CatalogueError::Invalid(problems))
        }
    }

    /// The template for a zone kind.
    pub fn for_zone(&self, kind: ZoneKind) -> Option<&Template> {
        self.templates.iter().find(|t| t.zone_kind == kind)
    }

    /// Everything wrong with the catalogue, in words; empty when it is usable.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut kinds = BTreeSet::new();
        for t in &self.templates {
            if !kinds.insert(t.zone_kind) {
                problems.push(format!(
                    "two templates for zone kind {}",
                    t.zone_kind.as_str()
                ));
            }
            if t.items.is_empty() {
                problems.push(format!("template {} has no items", t.zone_kind.as_str()));
            }
            let mut keys = BTreeSet::new();
            for item in &t.items {
                let at = format!("{}: {}", t.zone_kind.as_str(), item.key);
                if item.key.trim().is_empty() {
                    problems.push(format!("{at}: empty key"));
                }
                if !keys.insert(item.key.as_str()) {
                    problems.push(format!("{at}: key used twice"));
                }
                if item.text.zh.trim().is_empty() || item.text.en.trim().is_empty() {
                    problems.push(format!("{at}: text needs both Chinese and English"));
                }
                if let Some(h) = &item.hint
                    && (h.zh.trim().is_empty() || h.en.trim().is_empty())
                {
                    problems.push(format!("{at}: hint needs both Chinese and English"));
                }
                if let ItemKind::Reading {
                    unit,
                    normal_min,
                    normal_max,
                } = &item.kind
                {
                    if unit.trim().is_empty() {
                        problems.push(format!("{at}: reading without a unit"));
                    }
                    if normal_min.is_none() && normal_max.is_none() {
                        problems.push(format!("{at}: reading without a normal range"));
                    }
                    if let (Some(lo), Some(hi)) = (normal_min, normal_max)
                        && lo > hi
                    {
                        problems.push(format!("{at}: normal range is empty"));
                    }
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::routing::{Routing, default_team};
    use crate::team::Team;

    fn standard() -> &'static Catalogue {
        Catalogue::standard()
    }

    fn item(kind: ZoneKind, key: &str) -> &'static ChecklistItem {
        standard()
            .for_zone(kind)
            .unwrap_or_else(|| panic!("no template for {kind:?}"))
            .item(key)
            .unwrap_or_else(|| panic!("no item {key}"))
    }

    fn photo() -> Vec<String> {
        vec!["ab".repeat(32)]
    }

    fn ticked(outcome: Outcome) -> Answer {
        Answer {
            outcome: Some(outcome),
            ..Answer::default()
        }
    }

    fn read(v: f64) -> Answer {
        Answer {
            reading: Some(v),
            ..Answer::default()
        }
    }

    #[test]
    fn the_whole_catalogue_walks() {
        let c = standard();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        assert_eq!(
            c.templates.len(),
            ZoneKind::ALL.len(),
            "one template per zone kind"
        );
        let routing = Routing::default();
        let mut teams = BTreeSet::new();
        for kind in ZoneKind::ALL {
            let t = c
                .for_zone(kind)
                .unwrap_or_else(|| panic!("no template for {kind:?}"));
            assert_eq!(t.zone_kind, kind);
            // About a dozen at most: a longer list is not walked with care. (The stairwell has
            // 13: anti-theft and fire alarms route to different teams, so they are two items.)
            assert!(
                (4..=13).contains(&t.items.len()),
                "{kind:?} has {} items",
                t.items.len()
            );
            assert!(!t.name.zh.trim().is_empty() && !t.name.en.trim().is_empty());
            assert!(
                t.source.as_deref().is_some_and(|s| s.starts_with("004 §")),
                "{kind:?} names its place in the procedure"
            );
            for item in &t.items {
                let key = item.key.as_str();
                assert!(!item.text.zh.trim().is_empty(), "{key}");
                assert!(!item.text.en.trim().is_empty(), "{key}");
                assert!(
                    item.text.zh.chars().any(|ch| ch as u32 > 0x2E80),
                    "{key} zh is Chinese"
                );
                assert!(item.text.en.is_ascii(), "{key} en is English");
                assert!(!item.method.label().zh.is_empty(), "{key} has a method");
                if let Some(h) = &item.hint {
                    assert!(!h.zh.trim().is_empty() && !h.en.trim().is_empty(), "{key}");
                    assert!(h.en.is_ascii(), "{key} hint en is English");
                }
                // `<zone>.<thing>`, snake_case; the shared lobby/corridor list is keyed `lobby.`.
                let zone = if kind == ZoneKind::Corridor {
                    "lobby"
                } else {
                    kind.as_str()
                };
                let thing = key
                    .strip_prefix(&format!("{zone}."))
                    .unwrap_or_else(|| panic!("{key} is keyed by its zone"));
                assert!(
                    !thing.is_empty()
                        && thing
                            .chars()
                            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
                    "{key} is snake_case"
                );
                let team = routing.team_for(item.fault.category);
                assert_eq!(team, default_team(item.fault.category), "{key}");
                teams.insert(team);
            }
        }
        for team in [
            Team::Engineering,
            Team::Cleaning,
            Team::Landscaping,
            Team::Security,
            Team::CustomerService,
        ] {
            assert!(teams.contains(&team), "no item routes to {team:?}");
        }
        // Keys are unique across the file: only the two templates of the shared entry repeat.
        let keys: Vec<&str> = c
            .templates
            .iter()
            .filter(|t| t.zone_kind != ZoneKind::Corridor)
            .flat_map(|t| t.items.iter().map(|i| i.key.as_str()))
            .collect();
        let unique: BTreeSet<&str> = keys.iter().copied().collect();
        assert_eq!(keys.len(), unique.len(), "keys are unique across templates");
        assert_eq!(
            c.for_zone(ZoneKind::Lobby).unwrap().items,
            c.for_zone(ZoneKind::Corridor).unwrap().items
        );
    }

    #[test]
    fn gas_or_burning_with_no_known_cause_is_urgent_for_security() {
        let t = standard().for_zone(ZoneKind::Stairwell).unwrap();
        let gas = t
            .items
            .iter()
            .find(|i| i.text.zh.contains("天然气") && i.text.zh.contains("焦"))
            .expect("stairwell has the gas/burning item");
        assert_eq!(gas.key, "stairwell.gas_smell");
        assert_eq!(gas.fault.category, Category::Security);
        assert_eq!(gas.fault.severity, Severity::Urgent);
        assert_eq!(default_team(gas.fault.category), Team::Security);
        let hint = gas.hint.as_ref().expect("the gas item says what to do");
        assert!(
            hint.zh.contains("相关") && hint.zh.contains("原因不明"),
            "{}",
            hint.zh
        );
        assert!(hint.zh.contains("保安队"), "{}", hint.zh);
        assert!(hint.en.contains("security team"), "{}", hint.en);

        // The other indoor places have it too.
        for kind in [ZoneKind::Lobby, ZoneKind::Corridor, ZoneKind::Garage] {
            let t = standard().for_zone(kind).unwrap();
            assert!(
                t.items.iter().any(|i| i.fault
                    == FaultRule {
                        category: Category::Security,
                        severity: Severity::Urgent,
                    }
                    && i.hint.as_ref().is_some_and(|h| h.zh.contains("保安队"))),
                "{kind:?} has an urgent smell item"
            );
        }
        // Urgent means "security told at once": nothing else is urgent.
        for t in &standard().templates {
            for i in t
                .items
                .iter()
                .filter(|i| i.fault.severity == Severity::Urgent)
            {
                assert_eq!(i.fault.category, Category::Security, "{}", i.key);
                assert!(i.hint.is_some(), "{}", i.key);
            }
        }
    }

    #[test]
    fn escape_routes_and_the_rooftop_door_are_major_fire_problems() {
        let door = item(ZoneKind::Rooftop, "rooftop.door");
        assert_eq!(
            door.fault,
            FaultRule {
                category: Category::Fire,
                severity: Severity::Major,
            }
        );
        assert_eq!(door.method, Method::Touch, "the door is tried by hand");
        assert!(door.photo_on_fault);
        for (kind, key) in [
            (ZoneKind::Stairwell, "stairwell.escape_route"),
            (ZoneKind::Rooftop, "rooftop.clear"),
            (ZoneKind::Corridor, "lobby.clutter"),
            (ZoneKind::Garage, "garage.escape_route"),
            (ZoneKind::Roads, "roads.fire_lane"),
        ] {
            let i = item(kind, key);
            assert_eq!(
                (i.fault.category, i.fault.severity),
                (Category::Fire, Severity::Major),
                "{key}"
            );
        }
        for (kind, key) in [
            (ZoneKind::Stairwell, "stairwell.extinguisher"),
            (ZoneKind::Stairwell, "stairwell.hydrant"),
            (ZoneKind::Stairwell, "stairwell.fire_door"),
            (ZoneKind::Stairwell, "stairwell.exit_signs"),
        ] {
            assert_eq!(item(kind, key).fault.category, Category::Fire, "{key}");
        }
        // Methods follow §4.3: listen to the lift, ask the residents.
        assert_eq!(
            item(ZoneKind::Elevator, "elevator.noise").method,
            Method::Listen
        );
        assert_eq!(
            item(ZoneKind::Elevator, "elevator.residents").method,
            Method::Ask
        );
        assert_eq!(
            item(ZoneKind::Rooftop, "rooftop.railing").method,
            Method::Touch
        );
        let thrown = item(ZoneKind::Perimeter, "perimeter.thrown_objects");
        assert_eq!(
            (thrown.fault.category, thrown.fault.severity),
            (Category::ResidentViolation, Severity::Major)
        );
        assert_eq!(
            item(ZoneKind::Stairwell, "stairwell.anti_theft")
                .fault
                .category,
            Category::Security
        );
        assert_eq!(
            item(ZoneKind::Amenities, "amenities.plant_health")
                .fault
                .category,
            Category::Landscaping
        );
    }

    #[test]
    fn hygiene_is_routine_without_photos_and_repairs_are_photographed() {
        for t in &standard().templates {
            for i in &t.items {
                match i.fault.category {
                    Category::Cleaning => {
                        assert_eq!(i.fault.severity, Severity::Routine, "{}", i.key);
                        assert!(!i.photo_on_fault, "{}", i.key);
                    }
                    // Something a technician has to find and fix, seen with the eyes: photographed.
                    Category::Facility | Category::Fire if i.method == Method::Look => {
                        assert!(i.photo_on_fault, "{}", i.key);
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn meter_readings_are_judged_by_their_range() {
        let t = standard().for_zone(ZoneKind::Meter).unwrap();
        let reading = t
            .items
            .iter()
            .find(|i| matches!(i.kind, ItemKind::Reading { .. }))
            .expect("meters have a reading item");
        assert_eq!(reading.key, "meter.vacant_water");
        let ItemKind::Reading {
            unit,
            normal_min,
            normal_max,
        } = &reading.kind
        else {
            unreachable!()
        };
        assert_eq!(unit, "m³");
        assert_eq!((*normal_min, *normal_max), (Some(0.0), Some(0.0)));
        assert_eq!(reading.fault.category, Category::Facility);
        assert!(reading.photo_on_fault);
        let hint = reading.hint.as_ref().unwrap();
        assert!(
            hint.zh.contains("闸阀") && hint.zh.contains("业主"),
            "{}",
            hint.zh
        );

        // The range itself.
        assert!(reading.kind.in_range(0.0));
        assert!(!reading.kind.in_range(0.001));
        assert!(!reading.kind.in_range(-0.5));
        assert!(!reading.kind.in_range(f64::NAN));
        assert!(!reading.kind.in_range(f64::INFINITY));
        assert!(
            ItemKind::Check.in_range(f64::NAN),
            "only readings have a range"
        );
        assert!(ItemKind::Text.in_range(-1.0));

        // In range: ok, no photo needed.
        assert_eq!(reading.judge(&read(0.0)), Ok(Outcome::Ok));
        // Out of range: a fault whatever was ticked, and it must be photographed.
        let running = Answer {
            outcome: Some(Outcome::Ok),
            ..read(0.3)
        };
        assert_eq!(reading.judge(&running), Err(AnswerError::PhotoRequired));
        let running = Answer {
            photos: photo(),
            ..running
        };
        assert_eq!(reading.judge(&running), Ok(Outcome::Fault));
        // Ticked a fault on an in-range number: the person's word stands.
        let ticked_fault = Answer {
            outcome: Some(Outcome::Fault),
            photos: photo(),
            ..read(0.0)
        };
        assert_eq!(reading.judge(&ticked_fault), Ok(Outcome::Fault));
        assert_eq!(
            reading.judge(&read(f64::NAN)),
            Err(AnswerError::ReadingInvalid)
        );
        assert_eq!(
            reading.judge(&read(f64::NEG_INFINITY)),
            Err(AnswerError::ReadingInvalid)
        );
        assert_eq!(
            reading.judge(&Answer::default()),
            Err(AnswerError::ReadingMissing)
        );
        assert_eq!(reading.judge(&ticked(Outcome::Na)), Ok(Outcome::Na));

        // A lower bound works the same way (sprinkler pressure in the garage).
        let pressure = item(ZoneKind::Garage, "garage.sprinkler_pressure");
        assert!(matches!(&pressure.kind, ItemKind::Reading { unit, .. } if unit == "MPa"));
        assert_eq!(pressure.judge(&read(0.35)), Ok(Outcome::Ok));
        assert_eq!(
            pressure.judge(&read(0.05)),
            Ok(Outcome::Ok),
            "bounds are inclusive"
        );
        let low = Answer {
            photos: photo(),
            ..read(0.02)
        };
        assert_eq!(pressure.judge(&low), Ok(Outcome::Fault));
        assert_eq!(pressure.fault.category, Category::Fire);

        // Meter checks: working, and no reverse running or theft, reported to both assistants.
        let tamper = t.item("meter.tamper").unwrap();
        assert!(matches!(tamper.kind, ItemKind::Check));
        let hint = tamper.hint.as_ref().unwrap();
        assert!(hint.zh.contains("物业助理") && hint.zh.contains("工程助理"));
        assert!(t.item("meter.running").is_some());
    }

    #[test]
    fn check_items_need_an_outcome_and_photographed_faults_a_photo() {
        let lights = item(ZoneKind::Stairwell, "stairwell.lights");
        assert!(lights.photo_on_fault);
        assert_eq!(
            lights.judge(&Answer::default()),
            Err(AnswerError::OutcomeMissing)
        );
        assert_eq!(
            lights.judge(&Answer {
                note: Some("正常".into()),
                ..Answer::default()
            }),
            Err(AnswerError::OutcomeMissing),
            "a note is not an outcome"
        );
        assert_eq!(lights.judge(&ticked(Outcome::Ok)), Ok(Outcome::Ok));
        assert_eq!(lights.judge(&ticked(Outcome::Na)), Ok(Outcome::Na));
        assert_eq!(
            lights.judge(&ticked(Outcome::Fault)),
            Err(AnswerError::PhotoRequired)
        );
        let with_photo = Answer {
            photos: photo(),
            ..ticked(Outcome::Fault)
        };
        assert_eq!(lights.judge(&with_photo), Ok(Outcome::Fault));
        let hygiene = item(ZoneKind::Stairwell, "stairwell.hygiene");
        assert!(!hygiene.photo_on_fault);
        assert_eq!(hygiene.judge(&ticked(Outcome::Fault)), Ok(Outcome::Fault));
        let messages = [
            AnswerError::OutcomeMissing,
            AnswerError::PhotoRequired,
            AnswerError::ReadingInvalid,
        ]
        .map(|e| e.to_string());
        assert!(messages[0].contains("正常") && messages[0].contains("ok"));
        assert!(messages[1].contains("拍照") && messages[1].contains("photo"));
        assert!(messages[2].contains("读数") && messages[2].contains("not a number"));
    }

    const ONE_ITEM: &str = r#"
version = 1
[[template]]
zone_kinds = ["garage"]
name = { zh = "停车库", en = "Garage" }
[[template.item]]
key = "garage.lights"
text = { zh = "照明完好", en = "Lights work" }
method = "look"
kind = "check"
fault = { category = "facility", severity = "routine" }
"#;

    fn err(src: &str) -> String {
        Catalogue::from_toml(src)
            .expect_err("the catalogue is refused")
            .to_string()
    }

    #[test]
    fn broken_catalogues_are_refused_with_the_reason() {
        let ok = Catalogue::from_toml(ONE_ITEM).unwrap();
        let lights = ok
            .for_zone(ZoneKind::Garage)
            .unwrap()
            .item("garage.lights")
            .unwrap();
        assert!(!lights.photo_on_fault, "photo_on_fault defaults to false");
        assert_eq!(lights.hint, None);

        // Not TOML at all.
        let e = err("version = ");
        assert!(e.contains("does not parse"), "{e}");
        let e = err("version = 1\n[[template]\n");
        assert!(e.contains("does not parse"), "{e}");

        // A typo is an error, not a silently missing rule.
        let e = err(&ONE_ITEM.replace("method = \"look\"", "method = \"look\"\ncolour = \"red\""));
        assert!(
            e.contains("does not parse") && e.contains("unknown field `colour`"),
            "{e}"
        );
        let e =
            err(&ONE_ITEM.replace("kind = \"check\"", "kind = \"check\"\nphoto_on_falt = true"));
        assert!(e.contains("unknown field `photo_on_falt`"), "{e}");
        let e = err(&ONE_ITEM.replace(
            "severity = \"routine\"",
            "severity = \"routine\", severty = \"major\"",
        ));
        assert!(
            e.contains("unknown field `severty`"),
            "a typo inside the fault rule: {e}"
        );
        let e = err(&ONE_ITEM.replace("en = \"Lights work\"", "en = \"Lights work\", eng = \"x\""));
        assert!(
            e.contains("unknown field `eng`"),
            "a typo inside a text: {e}"
        );
        let e = err(&ONE_ITEM.replace("zone_kinds", "zone_kind"));
        assert!(e.contains("zone_kind"), "{e}");
        let e = err(&ONE_ITEM.replace("\"garage\"", "\"moon\""));
        assert!(e.contains("unknown variant `moon`"), "{e}");
        let e = err(&ONE_ITEM.replace("\"facility\"", "\"plumbing\""));
        assert!(e.contains("unknown variant `plumbing`"), "{e}");
        let e = err(&ONE_ITEM.replace("\"look\"", "\"smell\""));
        assert!(e.contains("unknown variant `smell`"), "{e}");

        // Missing English: the field left out, or left empty.
        let e = err(&ONE_ITEM.replace(", en = \"Lights work\"", ""));
        assert!(
            e.contains("does not parse") && e.contains("missing field `en`"),
            "{e}"
        );
        let e = err(&ONE_ITEM.replace("en = \"Lights work\"", "en = \" \""));
        assert!(
            e.contains("garage: garage.lights") && e.contains("both Chinese and English"),
            "{e}"
        );

        // Readings need a unit and a range, and only readings have them.
        let e = err(&ONE_ITEM.replace("kind = \"check\"", "kind = \"reading\"\nnormal_max = 1"));
        assert!(
            e.contains("garage.lights") && e.contains("without a unit"),
            "{e}"
        );
        let e = err(&ONE_ITEM.replace(
            "kind = \"check\"",
            "kind = \"reading\"\nunit = \"\"\nnormal_max = 1",
        ));
        assert!(e.contains("without a unit"), "{e}");
        let e = err(&ONE_ITEM.replace("kind = \"check\"", "kind = \"reading\"\nunit = \"V\""));
        assert!(e.contains("without a normal range"), "{e}");
        let e = err(&ONE_ITEM.replace(
            "kind = \"check\"",
            "kind = \"reading\"\nunit = \"V\"\nnormal_min = 2\nnormal_max = 1",
        ));
        assert!(e.contains("normal range is empty"), "{e}");
        let e = err(&ONE_ITEM.replace("kind = \"check\"", "kind = \"check\"\nunit = \"V\""));
        assert!(
            e.contains("garage.lights") && e.contains("readings only"),
            "{e}"
        );

        // A key used twice in a template.
        let twice = format!(
            "{ONE_ITEM}{}",
            &ONE_ITEM[ONE_ITEM.find("[[template.item]]").unwrap()..]
        );
        let e = err(&twice);
        assert!(
            e.contains("is invalid") && e.contains("garage: garage.lights: key used twice"),
            "{e}"
        );

        // Two entries for one zone kind.
        let again = format!(
            "{ONE_ITEM}{}",
            &ONE_ITEM[ONE_ITEM.find("[[template]]").unwrap()..]
        );
        assert!(err(&again).contains("two templates for zone kind garage"));

        // Every problem is reported at once, not just the first.
        let e = err(&twice.replacen("en = \"Lights work\"", "en = \"\"", 1));
        assert!(
            e.contains("key used twice") && e.contains("both Chinese and English"),
            "{e}"
        );
    }

    #[test]
    fn text_items_parse_and_need_text() {
        let c =
            Catalogue::from_toml(&ONE_ITEM.replace("kind = \"check\"", "kind = \"text\"")).unwrap();
        let i = c
            .for_zone(ZoneKind::Garage)
            .unwrap()
            .item("garage.lights")
            .unwrap();
        assert_eq!(i.kind, ItemKind::Text);
        assert_eq!(i.judge(&Answer::default()), Err(AnswerError::TextMissing));
        let blank = Answer {
            note: Some("  ".into()),
            ..Answer::default()
        };
        assert_eq!(i.judge(&blank), Err(AnswerError::TextMissing));
        let written = Answer {
            note: Some("B2层3号灯不亮".into()),
            ..Answer::default()
        };
        assert_eq!(i.judge(&written), Ok(Outcome::Ok));
    }

    #[test]
    fn template_ids_are_stable_and_distinct() {
        let a = Catalogue::from_toml(ONE_ITEM).unwrap();
        let b = Catalogue::from_toml(ONE_ITEM).unwrap();
        assert_eq!(
            a.templates[0].id, b.templates[0].id,
            "same kind and version"
        );
        // Items do not take part: the id names the kind's checklist of that version.
        let c = Catalogue::from_toml(&ONE_ITEM.replace("Lights work", "The lights work")).unwrap();
        assert_eq!(a.templates[0].id, c.templates[0].id);
        let v2 = Catalogue::from_toml(&ONE_ITEM.replace("version = 1", "version = 2")).unwrap();
        assert_ne!(
            a.templates[0].id, v2.templates[0].id,
            "a new version is a new id"
        );
        let other = Catalogue::from_toml(&ONE_ITEM.replace("[\"garage\"]", "[\"roads\"]")).unwrap();
        assert_ne!(a.templates[0].id, other.templates[0].id, "another kind");

        // Every phone and server agrees on the standard ids: pinned, so a change is noticed.
        let again = Catalogue::from_toml(include_str!("../catalogue/standard.toml")).unwrap();
        assert_eq!(&again, standard());
        assert_eq!(
            standard().for_zone(ZoneKind::Garage).unwrap().id,
            a.templates[0].id
        );
        assert_eq!(
            standard().for_zone(ZoneKind::Meter).unwrap().id.to_string(),
            PINNED_METER_V1
        );
        let ids: BTreeSet<_> = standard().templates.iter().map(|t| t.id).collect();
        assert_eq!(ids.len(), standard().templates.len());
        assert_ne!(
            standard().for_zone(ZoneKind::Lobby).unwrap().id,
            standard().for_zone(ZoneKind::Corridor).unwrap().id,
            "one entry, two kinds, two ids"
        );
    }

    const PINNED_METER_V1: &str = "62a186dd-b97e-5c2f-9e91-01b556a9e0fc";

    #[test]
    fn templates_travel_as_json_with_the_kind_inline() {
        for t in &standard().templates {
            let json = serde_json::to_value(t).unwrap();
            assert_eq!(json["zone_kind"], t.zone_kind.as_str());
            for (value, item) in json["items"].as_array().unwrap().iter().zip(&t.items) {
                assert_eq!(value["key"], item.key.as_str());
                assert!(value["kind"].is_string(), "{}: kind is flattened", item.key);
                match &item.kind {
                    ItemKind::Reading { .. } => {
                        assert_eq!(value["kind"], "reading");
                        assert!(value["unit"].is_string());
                    }
                    ItemKind::Check => {
                        assert_eq!(value["kind"], "check");
                        assert!(value.get("unit").is_none());
                    }
                    ItemKind::Text => assert_eq!(value["kind"], "text"),
                }
            }
            let back: Template = serde_json::from_value(json).unwrap();
            assert_eq!(&back, t);
        }
        let meters = standard().for_zone(ZoneKind::Meter).unwrap();
        let json = serde_json::to_value(meters).unwrap();
        let reading = json["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == "reading")
            .unwrap();
        assert_eq!(reading["unit"], "m³");
        assert_eq!(reading["normal_max"], 0.0);
        assert_eq!(reading["fault"]["category"], "facility");

        // A newer server may send more fields: they are ignored (DESIGN §6).
        let mut json = json;
        json["colour"] = "red".into();
        json["items"][0]["colour"] = "red".into();
        let back: Template = serde_json::from_value(json).unwrap();
        assert_eq!(&back, meters);
    }
}
