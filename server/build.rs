//! Stamps the binary with the commit it was built from and the build date, for
//! `authgate --version`: an operator reporting a problem can say exactly what runs.
//! Without git, or outside this workspace's own repository (a source tarball),
//! the commit is `unknown`. `SOURCE_DATE_EPOCH`, when set, fixes the date so
//! packaged builds are reproducible.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// `git ARGS` run in `dir`, its trimmed output when it succeeds and prints something.
fn git_in(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// The crate's directory (cargo sets it; `.` when run by hand).
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// `git ARGS` about this workspace's own repository: nothing when the sources sit in
/// no repository, or inside someone else's (a source tarball unpacked in a packaging
/// repository must not take that repository's commit).
fn git(args: &[&str]) -> Option<String> {
    let dir = manifest_dir();
    let top = PathBuf::from(git_in(&dir, &["rev-parse", "--show-toplevel"])?);
    let workspace = dir.canonicalize().ok()?.parent()?.to_path_buf();
    (top.canonicalize().ok()? == workspace).then_some(())?;
    git_in(&dir, args)
}

/// `YYYY-MM-DD` of a Unix time (Howard Hinnant's civil-from-days).
fn civil_date(secs: u64) -> String {
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // A new commit (HEAD moving, or the branch it names) re-stamps the binary.
    for path in [
        Some("HEAD".to_string()),
        git(&["symbolic-ref", "-q", "HEAD"]),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(file) = git(&["rev-parse", "--path-format=absolute", "--git-path", &path])
            && Path::new(&file).exists()
        {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    println!("cargo:rustc-env=AUTHGATE_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=AUTHGATE_BUILD_DATE={}", civil_date(secs));
}
