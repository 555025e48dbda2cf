//! Every locale has exactly English's messages, every message the code and the
//! templates name exists, and every sentence the code builds formats cleanly in
//! every language.

use std::collections::BTreeSet;
use std::path::Path;

use fluent_bundle::FluentResource;
use fluent_syntax::ast::Entry;

use super::*;
use crate::views::{
    BrowserName, CodeProblem, LastActive, LoginProblem, Message, Notice, Outcome, PasswordProblem,
    Span, Wait,
};

/// The message ids of one `.ftl` source (terms are private to it).
fn ids(src: &str) -> BTreeSet<String> {
    let res = FluentResource::try_new(src.to_string()).unwrap_or_else(|(_, e)| panic!("{e:?}"));
    res.entries()
        .filter_map(|e| match e {
            Entry::Message(m) => Some(m.id.name.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_locale_parses_and_has_exactly_the_english_ids() {
    init();
    let english = ids(SOURCES[0]);
    assert!(english.len() > 100, "{} English messages", english.len());
    for (lang, src) in Lang::ALL.iter().zip(SOURCES).skip(1) {
        let theirs = ids(src);
        let missing: Vec<_> = english.difference(&theirs).collect();
        let extra: Vec<_> = theirs.difference(&english).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{}: missing {missing:?}, not in English {extra:?}",
            lang.tag()
        );
    }
}

/// Message ids named as `t("…")`, `t1("…"`, `t2("…"` or `t_strong("…"` in a file.
fn referenced(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for call in [".t(\"", ".t1(\"", ".t2(\"", ".t_strong(\""] {
        for (at, _) in text.match_indices(call) {
            let rest = &text[at + call.len()..];
            if let Some(end) = rest.find('"') {
                out.push(rest[..end].to_string());
            }
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs" || e == "html") {
            out.push(p);
        }
    }
}

#[test]
fn every_message_named_in_code_and_templates_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    files(&root.join("src"), &mut paths);
    files(&root.join("templates"), &mut paths);
    let mut seen = 0;
    for path in paths {
        if path.ends_with("i18n/tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read source");
        for id in referenced(&text) {
            seen += 1;
            for lang in Lang::ALL {
                assert!(
                    lang.bundle().has_message(&id),
                    "{}: `{id}` (named in {}) is missing",
                    lang.tag(),
                    path.display()
                );
            }
        }
    }
    assert!(seen > 100, "only {seen} message references found");
}

#[test]
fn every_sentence_built_in_code_formats_in_every_language() {
    for lang in Lang::ALL {
        let l = &lang;
        let mut texts = Vec::new();
        for o in [
            Outcome::Approved,
            Outcome::Denied,
            Outcome::NotFound,
            Outcome::Expired,
            Outcome::AlreadyDecided,
        ] {
            texts.push(o.heading(l));
            texts.push(o.text(l));
        }
        for p in [
            CodeProblem::InvalidCharacter,
            CodeProblem::Shape,
            CodeProblem::Wrong,
            CodeProblem::Throttled(1),
            CodeProblem::Throttled(42),
        ] {
            texts.push(p.text(l));
        }
        for w in [
            Wait::Backoff(1),
            Wait::Backoff(30),
            Wait::InFlight,
            Wait::Busy,
        ] {
            texts.push(LoginProblem::Refused(w).text(l));
            texts.push(PasswordProblem::Refused(w).text(l));
        }
        texts.push(LoginProblem::Wrong.text(l));
        for p in [
            PasswordProblem::TooShort(1),
            PasswordProblem::TooShort(8),
            PasswordProblem::Mismatch,
            PasswordProblem::WrongCurrent,
        ] {
            texts.push(p.text(l));
        }
        for n in [
            Notice::Revoked,
            Notice::RevokedAll,
            Notice::SignedOut,
            Notice::SignedOutOthers,
            Notice::Password,
        ] {
            texts.push(n.text(l));
        }
        for d in crate::web::admin::pages::Done::ALL {
            texts.push(d.text(l));
        }
        for m in [Message::ConsentExpired, Message::SignOutPrompt] {
            let page = m.page(lang, None, "");
            texts.push(page.heading);
            texts.push(page.text);
        }
        for s in [
            Span::UnderMinute,
            Span::Minutes(1),
            Span::Minutes(5),
            Span::Hours(2),
            Span::Hours(21),
            Span::Days(1),
            Span::Days(3),
        ] {
            texts.push(s.text(l));
            texts.push(s.ago(l));
            texts.push(LastActive::Ago(s).text(l));
        }
        texts.push(LastActive::Now.text(l));
        texts.push(LastActive::Unknown.text(l));
        texts.push(BrowserName::UNKNOWN.text(l));
        texts.push(crate::views::browser_name("curl/8 (Linux)").text(l));
        for e in crate::web::PageError::all_for_tests() {
            let (h, t) = e.words(lang);
            texts.push(h);
            texts.push(t);
        }
        for s in ["profile", "read", "write"] {
            texts.push(l.scope(s).into_owned());
        }
        for t in &texts {
            assert!(!t.is_empty(), "{}: an empty sentence", lang.tag());
            assert!(!t.contains('{'), "{}: unformatted {t:?}", lang.tag());
        }
    }
}

#[test]
fn a_missing_message_is_an_error() {
    assert!(matches!(
        Lang::De.try_format("no-such-message", None),
        Err(I18nError::Missing { .. })
    ));
    // A variable the caller did not give is reported, not silently shown.
    assert!(matches!(
        Lang::Fr.try_format("code-throttled", None),
        Err(I18nError::Format { .. })
    ));
}

#[test]
fn accept_language_picks_by_q_value() {
    let cases = [
        ("", Lang::En),
        ("de", Lang::De),
        ("de-AT,de;q=0.9,en;q=0.8", Lang::De),
        ("en-US,en;q=0.9,ja;q=0.8", Lang::En),
        ("en;q=0.5,fr;q=0.8", Lang::Fr),
        ("es-419, en;q=0.1", Lang::Es),
        ("zh-TW", Lang::ZhTw),
        ("zh-Hant", Lang::ZhTw),
        ("zh-Hant-TW,zh;q=0.9", Lang::ZhTw),
        ("zh-HK", Lang::ZhTw),
        ("zh-CN,zh;q=0.9", Lang::En),
        ("zh-CN,ja;q=0.5", Lang::Ja),
        ("ja-JP", Lang::Ja),
        ("fr;q=0,de;q=0.1", Lang::De),
        ("ru,pt;q=0.9", Lang::En),
        ("*", Lang::En),
        ("de;q=abc,fr;q=0.3", Lang::Fr),
        ("de;q=1.5,es;q=0.2", Lang::Es),
        ("ja;q=0.8,de;q=0.8", Lang::Ja),
        ("FR-ca", Lang::Fr),
    ];
    for (header, want) in cases {
        assert_eq!(Lang::negotiate(header), want, "{header:?}");
    }
}

#[test]
fn the_cookie_wins_and_is_validated() {
    use hyper::header::{COOKIE, HeaderValue};
    let mut h = HeaderMap::new();
    h.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("fr"));
    assert_eq!(pick(&h, false), Lang::Fr);
    h.insert(COOKIE, HeaderValue::from_static("lang=ja"));
    assert_eq!(pick(&h, false), Lang::Ja);
    // Under https only the __Host- cookie counts.
    assert_eq!(pick(&h, true), Lang::Fr);
    h.insert(COOKIE, HeaderValue::from_static("__Host-lang=zh-TW"));
    assert_eq!(pick(&h, true), Lang::ZhTw);
    // An unsupported value is ignored.
    h.insert(COOKIE, HeaderValue::from_static("lang=xx-<script>"));
    assert_eq!(pick(&h, false), Lang::Fr);
    assert_eq!(Lang::from_tag("ZH-tw"), Some(Lang::ZhTw));
    assert_eq!(Lang::from_tag("zh"), None);
}

#[test]
fn bold_names_are_escaped() {
    let html = Lang::En.t_strong("result-connected", "client", "<b>&");
    assert_eq!(
        html,
        "<strong>&lt;b&gt;&amp;</strong> is now connected to your account."
    );
}
