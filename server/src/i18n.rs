//! The languages of the pages: every sentence a person reads is a Fluent message in
//! `server/locales/<tag>/main.ftl`, one file per language, compiled into the binary.
//!
//! Each language's bundle is parsed once, on first use (the server forces that at
//! startup with [`init`]), and shared by every request: rendering a page formats
//! messages, it never parses. Which language a page speaks is [`pick`]ed per
//! request: the `lang` cookie set by the switch on every page (`/language`), else
//! the best match in `Accept-Language` (q-values honoured), else English.
//!
//! A message that is missing, or formatted without a variable it uses, is a bug:
//! debug builds (every test) panic on it, release builds log it and fall back to
//! English (or the message id), so a page never breaks for a visitor.

use std::borrow::Cow;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use hyper::header::{ACCEPT_LANGUAGE, HeaderMap};

/// A language the pages are written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English, the default and the fallback.
    #[default]
    En,
    /// German.
    De,
    /// Spanish.
    Es,
    /// French.
    Fr,
    /// Traditional Chinese (Taiwan); also chosen for zh-Hant, zh-HK and zh-MO.
    ZhTw,
    /// Japanese.
    Ja,
}

/// The `.ftl` sources, in [`Lang::ALL`] order.
const SOURCES: [&str; 6] = [
    include_str!("../locales/en/main.ftl"),
    include_str!("../locales/de/main.ftl"),
    include_str!("../locales/es/main.ftl"),
    include_str!("../locales/fr/main.ftl"),
    include_str!("../locales/zh-TW/main.ftl"),
    include_str!("../locales/ja/main.ftl"),
];

/// Cookie remembering the chosen language (plain http).
pub const LANG_COOKIE: &str = "lang";
/// The same cookie's name under https (`__Host-`: Secure, Path=/, no Domain).
pub const HOST_LANG_COOKIE: &str = "__Host-lang";

/// The language cookie's name for this deployment.
pub fn lang_cookie(secure: bool) -> &'static str {
    if secure {
        HOST_LANG_COOKIE
    } else {
        LANG_COOKIE
    }
}

/// Why a message could not be formatted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum I18nError {
    /// No message with this id in the language's bundle.
    #[error("{lang}: no message `{id}`")]
    Missing {
        /// The language.
        lang: &'static str,
        /// The message id.
        id: String,
    },
    /// The message exists but has no value (only attributes).
    #[error("{lang}: message `{id}` has no value")]
    NoValue {
        /// The language.
        lang: &'static str,
        /// The message id.
        id: String,
    },
    /// Formatting reported errors (an unknown variable, a bad reference).
    #[error("{lang}: message `{id}`: {errors}")]
    Format {
        /// The language.
        lang: &'static str,
        /// The message id.
        id: String,
        /// What Fluent reported.
        errors: String,
    },
}

type Bundle = FluentBundle<FluentResource>;

static BUNDLES: LazyLock<Vec<Bundle>> = LazyLock::new(|| {
    Lang::ALL
        .iter()
        .zip(SOURCES)
        .map(|(lang, src)| build(*lang, src).unwrap_or_else(|e| panic!("{e}")))
        .collect()
});

/// Why an embedded `.ftl` file can't become a bundle (a build defect: startup stops).
#[derive(Debug, thiserror::Error)]
enum BundleError {
    /// The language tag does not parse.
    #[error("{tag}: bad language tag: {source}")]
    Tag {
        /// The tag.
        tag: &'static str,
        /// What the parser said.
        source: unic_langid::LanguageIdentifierError,
    },
    /// The file is not valid Fluent.
    #[error("{tag}/main.ftl does not parse: {errors:?}")]
    Syntax {
        /// The language.
        tag: &'static str,
        /// The parser's errors.
        errors: Vec<fluent_bundle::FluentError>,
    },
    /// A message is defined twice, or similar.
    #[error("{tag}/main.ftl: {errors:?}")]
    Resource {
        /// The language.
        tag: &'static str,
        /// The bundle's errors.
        errors: Vec<fluent_bundle::FluentError>,
    },
}

/// Parses one embedded `.ftl` file into a bundle; an error names the file's problems.
fn build(lang: Lang, src: &str) -> Result<Bundle, BundleError> {
    let tag = lang.tag();
    let id = tag
        .parse()
        .map_err(|source| BundleError::Tag { tag, source })?;
    let resource =
        FluentResource::try_new(src.to_string()).map_err(|(_, errors)| BundleError::Syntax {
            tag,
            errors: errors
                .into_iter()
                .map(fluent_bundle::FluentError::ParserError)
                .collect(),
        })?;
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // No Unicode isolation marks around placeables: none of our languages is
    // right-to-left, and the marks would sit inside codes and numbers.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .map_err(|errors| BundleError::Resource { tag, errors })?;
    Ok(bundle)
}

/// Parses every bundle now, so a broken one stops startup instead of a page.
pub fn init() {
    LazyLock::force(&BUNDLES);
}

/// A value for a message variable: text, or a number (numbers pick plural forms).
pub trait Arg {
    /// The Fluent value.
    fn value(&self) -> FluentValue<'_>;
}

impl Arg for str {
    fn value(&self) -> FluentValue<'_> {
        FluentValue::from(self)
    }
}
impl Arg for String {
    fn value(&self) -> FluentValue<'_> {
        FluentValue::from(self.as_str())
    }
}
impl Arg for u64 {
    fn value(&self) -> FluentValue<'_> {
        FluentValue::from(*self)
    }
}
impl Arg for usize {
    fn value(&self) -> FluentValue<'_> {
        FluentValue::from(*self)
    }
}
impl<T: Arg + ?Sized> Arg for &T {
    fn value(&self) -> FluentValue<'_> {
        (**self).value()
    }
}

impl Lang {
    /// Every language, English first (the order of the switch on the pages).
    pub const ALL: [Lang; 6] = [Lang::En, Lang::De, Lang::Es, Lang::Fr, Lang::ZhTw, Lang::Ja];

    /// The BCP 47 tag: the `lang` attribute, the cookie value, the locale folder.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Es => "es",
            Lang::Fr => "fr",
            Lang::ZhTw => "zh-TW",
            Lang::Ja => "ja",
        }
    }

    /// The language's name in itself, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "Deutsch",
            Lang::Es => "Español",
            Lang::Fr => "Français",
            Lang::ZhTw => "繁體中文",
            Lang::Ja => "日本語",
        }
    }

    /// The supported language with exactly this tag (ASCII case ignored); the only
    /// way a cookie or query value becomes a language.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        Lang::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(tag))
    }

    /// The supported language a single `Accept-Language` range asks for, if any:
    /// by primary subtag, with Chinese only when it is Traditional (zh-TW, zh-HK,
    /// zh-MO, zh-Hant…).
    fn from_range(range: &str) -> Option<Lang> {
        let lower = range.to_ascii_lowercase();
        let mut parts = lower.split(['-', '_']);
        let primary = parts.next()?;
        match primary {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            "es" => Some(Lang::Es),
            "fr" => Some(Lang::Fr),
            "ja" => Some(Lang::Ja),
            "zh" => parts
                .any(|p| matches!(p, "hant" | "tw" | "hk" | "mo"))
                .then_some(Lang::ZhTw),
            _ => None,
        }
    }

    /// The best supported language for an `Accept-Language` value: ranges by
    /// descending q (ties keep their order, `q=0` and malformed q are skipped),
    /// the first supported one wins; English when none is.
    pub fn negotiate(accept_language: &str) -> Lang {
        // (q in thousandths, position, language); only the first 32 ranges count.
        let mut best: Option<(u16, usize, Lang)> = None;
        for (pos, item) in accept_language.split(',').take(32).enumerate() {
            let mut fields = item.split(';');
            let range = fields.next().unwrap_or("").trim();
            let mut q = Some(1000u16);
            for param in fields {
                let param = param.trim();
                if let Some(v) = param
                    .strip_prefix("q=")
                    .or_else(|| param.strip_prefix("Q="))
                {
                    q = parse_q(v.trim());
                }
            }
            let (Some(q), Some(lang)) = (q, Self::from_range(range)) else {
                continue;
            };
            if q == 0 {
                continue;
            }
            if best.is_none_or(|(bq, _, _)| q > bq) {
                best = Some((q, pos, lang));
            }
        }
        best.map_or(Lang::En, |(_, _, l)| l)
    }

    fn bundle(self) -> &'static Bundle {
        let i = Lang::ALL.iter().position(|l| *l == self).unwrap_or(0);
        &BUNDLES[i]
    }

    /// Formats message `id` with `args`, reporting every problem.
    pub fn try_format(self, id: &str, args: Option<&FluentArgs>) -> Result<String, I18nError> {
        let bundle = self.bundle();
        let lang = self.tag();
        let msg = bundle.get_message(id).ok_or_else(|| I18nError::Missing {
            lang,
            id: id.to_string(),
        })?;
        let pattern = msg.value().ok_or_else(|| I18nError::NoValue {
            lang,
            id: id.to_string(),
        })?;
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if errors.is_empty() {
            Ok(text.into_owned())
        } else {
            Err(I18nError::Format {
                lang,
                id: id.to_string(),
                errors: format!("{errors:?}"),
            })
        }
    }

    /// Formats `id`; a failure is a bug (see the module docs).
    fn format(self, id: &str, args: Option<&FluentArgs>) -> String {
        match self.try_format(id, args) {
            Ok(text) => text,
            Err(e) => {
                if cfg!(debug_assertions) {
                    panic!("i18n: {e}");
                }
                tracing::error!("i18n: {e}");
                if self != Lang::En
                    && let Ok(text) = Lang::En.try_format(id, args)
                {
                    return text;
                }
                id.to_string()
            }
        }
    }

    /// The message `id`, which takes no variables.
    pub fn t(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// The message `id` with one variable.
    pub fn t1(&self, id: &str, k: &str, v: impl Arg) -> String {
        let mut args = FluentArgs::new();
        args.set(k.to_string(), v.value().into_owned());
        self.format(id, Some(&args))
    }

    /// The message `id` with two variables.
    pub fn t2(&self, id: &str, k1: &str, v1: impl Arg, k2: &str, v2: impl Arg) -> String {
        let mut args = FluentArgs::new();
        args.set(k1.to_string(), v1.value().into_owned());
        args.set(k2.to_string(), v2.value().into_owned());
        self.format(id, Some(&args))
    }

    /// HTML for message `id` whose variable `k` is shown in bold: the message is
    /// escaped, then `<strong>` + escaped `v` goes where the variable was. For
    /// templates, with `|safe`.
    pub fn t_strong(&self, id: &str, k: &str, v: &str) -> String {
        const MARK: &str = "\u{E000}";
        let text = self.t1(id, k, MARK);
        let strong = format!("<strong>{}</strong>", escape_html(v));
        escape_html(&text).replace(MARK, &strong)
    }

    /// A scope in plain words, or the scope itself when it is not one we know.
    pub fn scope<'a>(&self, scope: &'a str) -> Cow<'a, str> {
        match scope {
            "profile" => self.t("scope-profile").into(),
            "read" => self.t("scope-read").into(),
            "write" => self.t("scope-write").into(),
            other => Cow::Borrowed(other),
        }
    }

    /// Whether `scope` has plain words (else the page shows the scope itself).
    pub fn knows_scope(&self, scope: &str) -> bool {
        matches!(scope, "profile" | "read" | "write")
    }
}

/// A q-value (`0`, `0.5`, `1.000`) in thousandths; `None` when malformed.
fn parse_q(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_val = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_val),
        "1" if frac_val == 0 => Some(1000),
        _ => None,
    }
}

/// Escapes text for HTML element content and attribute values.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The language for a page request: a valid `lang` cookie (the switch), else
/// `Accept-Language`, else English. `secure`: the deployment's cookies are `__Host-`.
pub fn pick(headers: &HeaderMap, secure: bool) -> Lang {
    if let Some(lang) =
        crate::http::cookie::cookie(headers, lang_cookie(secure)).and_then(Lang::from_tag)
    {
        return lang;
    }
    headers
        .get_all(ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(Lang::negotiate)
        .next()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
