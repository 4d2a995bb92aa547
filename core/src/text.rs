//! Text shown to people: Chinese first, English second.

use serde::{Deserialize, Serialize};

/// A bilingual string, zh-CN and en.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    /// Simplified Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

impl Text {
    /// Both languages.
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// The text for a language tag: Chinese unless English is asked for.
    pub fn get(&self, lang: &str) -> &str {
        if lang.starts_with("en") {
            &self.en
        } else {
            &self.zh
        }
    }

    /// Both languages on one line, Chinese first: "楼梯灯 / Stair lights".
    pub fn both(&self) -> String {
        format!("{} / {}", self.zh, self.en)
    }
}
