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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The issue category (and so the team).
    pub category: Category,
    /// The issue severity (and so the SLA).
    pub severity: Severity,
}

/// One thing to check at a checkpoint.
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
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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
    name: Text,
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
    text: Text,
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
    fault: FaultRule,
    #[serde(default)]
    hint: Option<Text>,
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
            text: self.text,
            method: self.method,
            kind,
            photo_on_fault: self.photo_on_fault,
            fault: self.fault,
            hint: self.hint,
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
                    name: spec.name.clone(),
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
    use crate::routing::{Routing, Team, default_team};

    fn standard() -> &'static Catalogue {
        Catalogue::standard()
    }

    #[test]
    fn the_whole_catalogue_walks() {
        let c = standard();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let routing = Routing::default();
        let mut teams = BTreeSet::new();
        for kind in ZoneKind::ALL {
            let t = c
                .for_zone(kind)
                .unwrap_or_else(|| panic!("no template for {kind:?}"));
            assert!(
                t.items.len() >= 4,
                "{kind:?} has only {} items",
                t.items.len()
            );
            assert!(!t.name.zh.is_empty() && !t.name.en.is_empty());
            for item in &t.items {
                assert!(!item.text.zh.trim().is_empty(), "{}", item.key);
                assert!(!item.text.en.trim().is_empty(), "{}", item.key);
                assert!(
                    item.text.zh.chars().any(|ch| ch as u32 > 0x2E80),
                    "{} zh is Chinese",
                    item.key
                );
                assert!(item.text.en.is_ascii(), "{} en is English", item.key);
                assert!(
                    item.key.starts_with(&format!("{}.", kind.as_str()))
                        || kind == ZoneKind::Corridor,
                    "{} is keyed by its zone",
                    item.key
                );
                let team = routing.team_for(item.fault.category);
                assert_eq!(team, default_team(item.fault.category));
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
        let keys: Vec<&str> = c
            .templates
            .iter()
            .filter(|t| t.zone_kind != ZoneKind::Corridor)
            .flat_map(|t| t.items.iter().map(|i| i.key.as_str()))
            .collect();
        let unique: BTreeSet<&str> = keys.iter().copied().collect();
        assert_eq!(keys.len(), unique.len(), "keys are unique across templates");
    }

    #[test]
    fn gas_or_burning_in_a_stairwell_is_urgent_for_security() {
        let t = standard().for_zone(ZoneKind::Stairwell).unwrap();
        let gas = t
            .items
            .iter()
            .find(|i| i.text.zh.contains("天然气") && i.text.zh.contains("焦"))
            .expect("stairwell has the gas/burning item");
        assert_eq!(gas.fault.category, Category::Security);
        assert_eq!(gas.fault.severity, Severity::Urgent);
        let hint = gas.hint.as_ref().unwrap();
        assert!(hint.zh.contains("保安队"), "{}", hint.zh);
    }

    #[test]
    fn escape_routes_and_the_rooftop_door_are_fire_problems() {
        let door = standard()
            .for_zone(ZoneKind::Rooftop)
            .unwrap()
            .item("rooftop.door")
            .unwrap();
        assert_eq!(
            (door.fault.category, door.fault.severity),
            (Category::Fire, Severity::Major)
        );
        assert_eq!(door.method, Method::Touch);
        let noise = standard()
            .for_zone(ZoneKind::Elevator)
            .unwrap()
            .item("elevator.noise")
            .unwrap();
        assert_eq!(noise.method, Method::Listen);
    }

    #[test]
    fn a_meter_reading_out_of_range_is_a_fault() {
        let t = standard().for_zone(ZoneKind::Meter).unwrap();
        let reading = t
            .items
            .iter()
            .find(|i| matches!(i.kind, ItemKind::Reading { .. }))
            .expect("meters have a reading item");
        let ItemKind::Reading {
            unit, normal_max, ..
        } = &reading.kind
        else {
            unreachable!()
        };
        assert!(!unit.is_empty());
        let max = normal_max.unwrap();
        let answer = |v: f64| Answer {
            reading: Some(v),
            photos: vec!["ab".repeat(32)],
            ..Answer::default()
        };
        assert_eq!(reading.judge(&answer(max)), Ok(Outcome::Ok));
        assert_eq!(reading.judge(&answer(max + 0.3)), Ok(Outcome::Fault));
        assert_eq!(
            reading.judge(&answer(f64::NAN)),
            Err(AnswerError::ReadingInvalid)
        );
        assert_eq!(
            reading.judge(&Answer::default()),
            Err(AnswerError::ReadingMissing)
        );
        let no_photo = Answer {
            reading: Some(max + 1.0),
            ..Answer::default()
        };
        assert_eq!(reading.judge(&no_photo), Err(AnswerError::PhotoRequired));
        let na = Answer {
            outcome: Some(Outcome::Na),
            ..Answer::default()
        };
        assert_eq!(reading.judge(&na), Ok(Outcome::Na));
    }

    #[test]
    fn check_items_need_an_outcome_and_photographed_faults_a_photo() {
        let t = standard().for_zone(ZoneKind::Stairwell).unwrap();
        let lights = t.item("stairwell.lights").unwrap();
        assert!(lights.photo_on_fault);
        assert_eq!(
            lights.judge(&Answer::default()),
            Err(AnswerError::OutcomeMissing)
        );
        let fault = Answer {
            outcome: Some(Outcome::Fault),
            ..Answer::default()
        };
        assert_eq!(lights.judge(&fault), Err(AnswerError::PhotoRequired));
        let with_photo = Answer {
            photos: vec!["cd".repeat(32)],
            ..fault
        };
        assert_eq!(lights.judge(&with_photo), Ok(Outcome::Fault));
        let hygiene = t.item("stairwell.hygiene").unwrap();
        assert!(!hygiene.photo_on_fault);
        let fault = Answer {
            outcome: Some(Outcome::Fault),
            ..Answer::default()
        };
        assert_eq!(hygiene.judge(&fault), Ok(Outcome::Fault));
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

    #[test]
    fn broken_catalogues_are_refused_with_the_reason() {
        assert!(Catalogue::from_toml(ONE_ITEM).is_ok());
        let err = |src: &str| Catalogue::from_toml(src).unwrap_err().to_string();
        assert!(err("version = ").contains("does not parse"));
        assert!(
            err(&ONE_ITEM.replace("method = \"look\"", "method = \"look\"\ncolour = \"red\""))
                .contains("colour")
        );
        assert!(
            err(&ONE_ITEM.replace("en = \"Lights work\"", "en = \"\""))
                .contains("both Chinese and English")
        );
        assert!(
            err(&ONE_ITEM.replace(
                "kind = \"check\"",
                "kind = \"reading\"\nunit = \"\"\nnormal_max = 1"
            ))
            .contains("without a unit")
        );
        assert!(
            err(&ONE_ITEM.replace("kind = \"check\"", "kind = \"reading\"\nunit = \"V\""))
                .contains("without a normal range")
        );
        assert!(
            err(&ONE_ITEM.replace("kind = \"check\"", "kind = \"check\"\nunit = \"V\""))
                .contains("readings only")
        );
        let twice = format!(
            "{ONE_ITEM}{}",
            &ONE_ITEM[ONE_ITEM.find("[[template.item]]").unwrap()..]
        );
        assert!(err(&twice).contains("key used twice"));
        assert!(err(&ONE_ITEM.replace("\"garage\"", "\"moon\"")).contains("moon"));
    }

    #[test]
    fn template_ids_are_stable_and_distinct() {
        let a = Catalogue::from_toml(ONE_ITEM).unwrap();
        let b = Catalogue::from_toml(ONE_ITEM).unwrap();
        assert_eq!(a.templates[0].id, b.templates[0].id);
        let ids: BTreeSet<_> = standard().templates.iter().map(|t| t.id).collect();
        assert_eq!(ids.len(), standard().templates.len());
    }

    #[test]
    fn templates_travel_as_json_with_the_kind_inline() {
        let t = standard().for_zone(ZoneKind::Meter).unwrap();
        let json = serde_json::to_value(t).unwrap();
        let reading = json["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == "reading")
            .unwrap();
        assert!(reading["unit"].is_string());
        let back: Template = serde_json::from_value(json).unwrap();
        assert_eq!(&back, t);
    }
}
