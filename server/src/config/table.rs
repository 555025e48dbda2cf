//! The macro that turns the one key table in `config.rs` into the clap arguments,
//! the [`KEYS`](super::KEYS) list, the file setter and the printout, and how each
//! value type prints in `authgate config`.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use super::ValueError;
use crate::http::client_ip::TrustedProxies;

/// Declares every configuration key once. A `flags` row is
/// `name: [Type] = "ENV", parser, (clap options);` and becomes `--name` (dashes),
/// the variable `ENV` and the file key `name`, all parsed by `parser`. A `secrets`
/// row is `name = "ENV";`: an `Option<String>` from the environment or the file
/// only (never a flag, which would show in `ps`), printed `<redacted>`.
macro_rules! config_keys {
    (
        flags { $(
            $(#[doc = $doc:literal])*
            $name:ident : [$($ty:tt)+] = $env:literal, $parse:ident $([$($value:literal),+])?,
                ($($arg:tt)*);
        )* }
        secrets { $(
            $(#[doc = $sdoc:literal])*
            $sname:ident = $senv:literal;
        )* }
    ) => {
        /// The server's settings: flags, environment, `--config` file, defaults.
        #[derive(clap::Args, Debug, Clone)]
        pub struct ServeArgs {
            $(
                $(#[doc = $doc])*
                #[arg(
                    long,
                    env = $env,
                    value_parser = table::KeyParser::new($parse, &[$($($value),+)?]),
                    $($arg)*
                )]
                pub $name: $($ty)+,
            )*
            $(
                $(#[doc = $sdoc])*
                #[arg(skip)]
                pub $sname: Option<String>,
            )*
        }

        /// Every key, in the order `authgate config` prints them.
        pub const KEYS: &[Key] = &[
            $( Key { name: stringify!($name), env: $env, secret: false }, )*
            $( Key { name: stringify!($sname), env: $senv, secret: true }, )*
        ];

        impl ServeArgs {
            /// Sets one key from text (the file or a secret's variable), with the
            /// key's own parser.
            fn set(&mut self, key: &str, text: &str) -> Result<(), ValueError> {
                match key {
                    $( stringify!($name) => self.$name = $parse(text)?.into(), )*
                    $( stringify!($sname) => self.$sname = Some(text.to_string()), )*
                    _ => return Err(ValueError::UnknownKey),
                }
                Ok(())
            }

            /// Every key with its value as TOML (`None`: not set), secrets redacted.
            fn shown(&self) -> Vec<(&'static str, Option<String>)> {
                vec![
                    $( (stringify!($name), Show::show(&self.$name)), )*
                    $( (
                        stringify!($sname),
                        self.$sname.as_ref().map(|_| table::quote("<redacted>")),
                    ), )*
                ]
            }
        }
    };
}

/// The clap value parser of a key: its own parse function, and for keys with a
/// closed set of values (`log_format`, `metrics`) that set, so `--help` and clap's
/// error list them.
#[derive(Clone)]
pub(super) struct KeyParser<T> {
    parse: fn(&str) -> Result<T, ValueError>,
    values: &'static [&'static str],
}

impl<T> KeyParser<T> {
    pub(super) fn new(
        parse: fn(&str) -> Result<T, ValueError>,
        values: &'static [&'static str],
    ) -> Self {
        KeyParser { parse, values }
    }
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for KeyParser<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        if !self.values.is_empty() {
            PossibleValuesParser::new(self.values).parse_ref(cmd, arg, value)?;
        }
        self.parse.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        if self.values.is_empty() {
            return None;
        }
        Some(Box::new(self.values.iter().map(PossibleValue::new)))
    }
}

/// A TOML string literal.
pub(super) fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// How a value prints in `authgate config` (TOML, `None` when unset).
pub(super) trait Show {
    fn show(&self) -> Option<String>;
}

impl<T: Show> Show for Option<T> {
    fn show(&self) -> Option<String> {
        self.as_ref().and_then(Show::show)
    }
}

impl Show for Duration {
    fn show(&self) -> Option<String> {
        Some(format!("\"{}\"", short_duration(*self)))
    }
}

impl Show for PathBuf {
    fn show(&self) -> Option<String> {
        Some(quote(&self.display().to_string()))
    }
}

macro_rules! show_quoted {
    ($($t:ty),*) => {$(
        impl Show for $t {
            fn show(&self) -> Option<String> {
                Some(quote(&self.to_string()))
            }
        }
    )*};
}
show_quoted!(String, SocketAddr, TrustedProxies, super::LogFormat);

macro_rules! show_bare {
    ($($t:ty),*) => {$(
        impl Show for $t {
            fn show(&self) -> Option<String> {
                Some(self.to_string())
            }
        }
    )*};
}
show_bare!(bool, u32, usize);

/// A duration in the largest unit that divides it (`90days`, `15m`, `61s`).
fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{}days", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
