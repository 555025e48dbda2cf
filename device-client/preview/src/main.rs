//! `display-preview`: writes the board's 128×64 login screen as a PNG.
//!
//! ```text
//! cargo run --bin display-preview -- --uri http://192.168.1.10:8080/device \
//!     --code BCDF-GHJK --out screen.png [--complete URL] [--status waiting|joining|
//!     connecting|signed-in|error:TEXT] [--scale 4] [--margin 4]
//! ```
//!
//! `--uri` is `verification_uri`; the QR code holds `--complete`, by default the
//! `verification_uri_complete` AuthGate would send (`URI?user_code=CODE` without the
//! dash). Without `--code` only the status screen is drawn.

use std::process::ExitCode;

use authgate_device::display::Status;
use authgate_display_preview::{complete_uri, render_code_screen, render_status_screen};

const USAGE: &str = "usage: display-preview --uri URI --code CODE --out FILE.png \
[--complete URL] [--status waiting|joining|connecting|signed-in|error:TEXT] [--scale N] [--margin N]";

struct Args {
    uri: Option<String>,
    code: Option<String>,
    complete: Option<String>,
    status: String,
    out: String,
    scale: u32,
    margin: u32,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        uri: None,
        code: None,
        complete: None,
        status: "waiting".into(),
        out: String::new(),
        scale: 4,
        margin: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--uri" => a.uri = Some(value),
            "--code" => a.code = Some(value),
            "--complete" => a.complete = Some(value),
            "--status" => a.status = value,
            "--out" => a.out = value,
            "--scale" => a.scale = value.parse().map_err(|e| format!("--scale: {e}"))?,
            "--margin" => a.margin = value.parse().map_err(|e| format!("--margin: {e}"))?,
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if a.out.is_empty() {
        return Err(format!("--out is required\n{USAGE}"));
    }
    Ok(a)
}

fn status(s: &str) -> Result<Status<'_>, String> {
    Ok(match s {
        "waiting" => Status::WaitingForApproval,
        "joining" => Status::JoiningWifi,
        "connecting" => Status::Connecting,
        "signed-in" => Status::SignedIn,
        _ => match s.strip_prefix("error:") {
            Some(text) => Status::Error(text),
            None => return Err(format!("unknown --status {s}\n{USAGE}")),
        },
    })
}

fn run() -> Result<(), String> {
    let a = parse()?;
    let st = status(&a.status)?;
    let frame = match (&a.uri, &a.code) {
        (Some(uri), Some(code)) => {
            let complete = a
                .complete
                .clone()
                .unwrap_or_else(|| complete_uri(uri, code));
            render_code_screen(st, uri, Some(&complete), code)
        }
        (None, None) => render_status_screen(st),
        _ => return Err(format!("--uri and --code go together\n{USAGE}")),
    };
    let png = frame.to_png(a.scale, a.margin).map_err(|e| e.to_string())?;
    std::fs::write(&a.out, png).map_err(|e| format!("{}: {e}", a.out))?;
    println!("wrote {}", a.out);
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("display-preview: {e}");
            ExitCode::FAILURE
        }
    }
}
