//! French for people, English for programs: the one message type ([`Text`]) every text a
//! manager or a student reads is built with, and the language of the request being served.
//!
//! The HTTP layer ([`crate::telemetry::request_context`]) reads `Accept-Language` once per
//! request and serves the request inside [`scope`]; whatever renders a text for that request
//! (the problem documents of [`crate::error`], labels in answers) asks [`current`]. French is
//! the default, as the users are. Codes (`code`, statuses, reasons' keys) never change with
//! the language: programs key on them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A language passerelle answers in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// French, the default.
    #[default]
    Fr,
    /// English.
    En,
}

impl Lang {
    /// The language tag, as sent in `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The caller's preferred language among French and English, by the quality values of an
    /// `Accept-Language` header (RFC 9110 §12.5.4); between equal qualities, the first listed.
    /// No header or no supported language: French.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::Fr;
        };
        let mut best: Option<(Lang, u16)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "fr" => Lang::Fr,
                "en" => Lang::En,
                _ => continue,
            };
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16)
                .next()
                .unwrap_or(1000);
            if quality == 0 {
                continue;
            }
            if best.is_none_or(|(_, q)| quality > q) {
                best = Some((lang, quality));
            }
        }
        best.map_or(Lang::Fr, |(lang, _)| lang)
    }
}

tokio::task_local! {
    static LANG: Lang;
}

/// The language of the request being served on this task (French outside a request).
pub fn current() -> Lang {
    LANG.try_with(|l| *l).unwrap_or_default()
}

/// Runs `future` as a request in `lang`.
pub async fn scope<F: std::future::Future>(lang: Lang, future: F) -> F::Output {
    LANG.scope(lang, future).await
}

/// Runs `f` as if serving a request in `lang` (renders outside a request's task, tests).
pub fn with<R>(lang: Lang, f: impl FnOnce() -> R) -> R {
    LANG.sync_scope(lang, f)
}

/// One text in both languages. Texts with values are built with [`text!`](crate::text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Text {
    pub fr: Cow<'static, str>,
    pub en: Cow<'static, str>,
}

impl Text {
    /// Both languages of a fixed text.
    pub const fn fixed(fr: &'static str, en: &'static str) -> Text {
        Text {
            fr: Cow::Borrowed(fr),
            en: Cow::Borrowed(en),
        }
    }

    pub fn new(fr: impl Into<Cow<'static, str>>, en: impl Into<Cow<'static, str>>) -> Text {
        Text {
            fr: fr.into(),
            en: en.into(),
        }
    }

    /// A text only programs read (a parser's message, a library's error): the same words in
    /// both languages. People's texts never use it.
    pub fn untranslated(s: impl Into<Cow<'static, str>>) -> Text {
        let s = s.into();
        Text {
            fr: s.clone(),
            en: s,
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        }
    }

    /// The text in the language of the request being served.
    pub fn localized(&self) -> &str {
        self.get(current())
    }

    /// The form kept in a text column: both languages as JSON.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| self.en.to_string())
    }

    /// Reads [`Text::to_stored`]'s form back; a plain string (written before texts had two
    /// languages) is taken as untranslated.
    pub fn from_stored(stored: &str) -> Text {
        serde_json::from_str(stored).unwrap_or_else(|_| Text::untranslated(stored.to_owned()))
    }

    /// Reads a JSON list of texts as kept in a text column: each item [`Text::to_stored`]'s
    /// form, or a plain string (written before texts had two languages) taken as untranslated.
    pub fn stored_list(stored: &str) -> Vec<Text> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Both(Text),
            Plain(String),
        }
        serde_json::from_str::<Vec<Stored>>(stored)
            .unwrap_or_default()
            .into_iter()
            .map(|item| match item {
                Stored::Both(text) => text,
                Stored::Plain(s) => Text::untranslated(s),
            })
            .collect()
    }

    /// Whether the English text contains `needle` (tests and logs read English).
    pub fn contains(&self, needle: &str) -> bool {
        self.en.contains(needle)
    }
}

/// A text that a DTO serializes in the language of the request being served (its schema is a
/// plain string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Localized(pub Text);

impl Serialize for Localized {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.localized())
    }
}

impl From<Text> for Localized {
    fn from(t: Text) -> Self {
        Localized(t)
    }
}

/// `#[serde(serialize_with = "crate::i18n::localized")]`: a [`Text`] field of a DTO or a
/// report, written in the language of the request being served (its schema is a string).
pub fn localized<S: serde::Serializer>(text: &Text, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(text.localized())
}

/// [`localized`] for an optional text.
pub fn localized_option<S: serde::Serializer>(
    text: &Option<Text>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match text {
        Some(text) => s.serialize_some(text.localized()),
        None => s.serialize_none(),
    }
}

/// [`localized`] for a list of texts.
pub fn localized_list<S: serde::Serializer>(texts: &[Text], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(texts.iter().map(Text::localized))
}

/// English, for logs and programs.
impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.en)
    }
}

/// `writeln_in!(out, lang, "fr {}", "en {}", args…)`: one line of a report, in `lang`.
#[macro_export]
macro_rules! writeln_in {
    ($out:expr, $lang:expr, $fr:literal, $en:literal $(, $arg:expr)* $(,)?) => {{
        use std::fmt::Write as _;
        let _ = match $lang {
            $crate::i18n::Lang::Fr => writeln!($out, $fr $(, $arg)*),
            $crate::i18n::Lang::En => writeln!($out, $en $(, $arg)*),
        };
    }};
}

/// `text!("fr {x}", "en {x}")`: one [`Text`] whose two languages carry the values of the
/// variables they name (bind them first: each language may name its own).
#[macro_export]
macro_rules! text {
    ($fr:literal, $en:literal $(,)?) => {
        $crate::i18n::Text::new(format!($fr), format!($en))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        let pick = |h: &str| Lang::from_accept_language(Some(h));
        assert_eq!(Lang::from_accept_language(None), Lang::Fr);
        assert_eq!(pick(""), Lang::Fr);
        assert_eq!(pick("en"), Lang::En);
        assert_eq!(pick("en-GB,en;q=0.9"), Lang::En);
        assert_eq!(pick("fr-FR,fr;q=0.9,en;q=0.8"), Lang::Fr);
        assert_eq!(pick("de,en;q=0.5,fr;q=0.4"), Lang::En);
        assert_eq!(pick("en;q=0.3,fr;q=0.7"), Lang::Fr);
        assert_eq!(pick("de-DE"), Lang::Fr);
        assert_eq!(pick("en;q=0, *"), Lang::Fr);
        assert_eq!(pick("EN-us"), Lang::En);
        assert_eq!(pick("en, fr"), Lang::En, "a tie goes to the first listed");
    }

    #[test]
    fn stored_lists_keep_both_languages_and_read_old_plain_strings() {
        let both = Text::fixed("page 2 : fusion", "page 2: merged");
        let column = serde_json::to_string(&vec![both.clone()]).unwrap();
        assert_eq!(Text::stored_list(&column), vec![both]);
        // A column written before texts had two languages.
        let old = Text::stored_list(r#"["page 3 names two numbers"]"#);
        assert_eq!(old[0].get(Lang::Fr), "page 3 names two numbers");
        assert_eq!(old[0].get(Lang::En), "page 3 names two numbers");
        assert!(Text::stored_list("not json").is_empty());
    }

    #[test]
    fn texts_render_in_the_scoped_language() {
        let n = 3;
        let t = crate::text!("{n} documents envoyés", "{n} documents sent");
        assert_eq!(t.get(Lang::Fr), "3 documents envoyés");
        assert_eq!(
            with(Lang::En, || t.localized().to_owned()),
            "3 documents sent"
        );
        assert_eq!(t.localized(), "3 documents envoyés");
        assert_eq!(t.to_string(), "3 documents sent");
    }
}
