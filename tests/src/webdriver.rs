//! A small W3C WebDriver client for headless Chromium, for the browser tests.
//!
//! [`Chrome::phone`] starts `chromedriver` on a free loopback port and a fresh
//! Chromium profile emulating a 360×640 phone; [`Chrome::desktop`] a 1280×800
//! window. Everything goes over plain HTTP to chromedriver (no async runtime, no
//! extra crates); Chromium is started with networking features that would reach
//! out to Google turned off. Dropping a [`Chrome`] ends the session and the driver.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test-all.sh` installs
//! them). Env `CHROME_BIN` and `CHROMEDRIVER` override the binaries.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

/// The W3C key under which an element reference travels.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long [`Chrome::wait_for`] and friends wait by default.
const WAIT: Duration = Duration::from_secs(15);

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn driver_path() -> Option<PathBuf> {
    std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| which("chromedriver"))
}

fn chrome_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROME_BIN") {
        return Some(PathBuf::from(p));
    }
    // Debian's /usr/bin/chromium is a shell wrapper; the real binary is here.
    let real = Path::new("/usr/lib/chromium/chromium");
    if real.is_file() {
        return Some(real.to_path_buf());
    }
    which("chromium").or_else(|| which("chromium-browser"))
}

/// Where screenshots go: `tests/artifacts/` always, and also `docs/screenshots/`
/// when env `AUTHGATE_UPDATE_SCREENSHOTS=1` (to refresh the README's pictures).
pub fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts")
}

fn docs_screenshots_dir() -> Option<PathBuf> {
    (std::env::var("AUTHGATE_UPDATE_SCREENSHOTS").as_deref() == Ok("1")).then(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("docs")
            .join("screenshots")
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free loopback port")
}

/// An element found on the page.
#[derive(Clone, Debug)]
pub struct Element(String);

/// A headless Chromium driven over WebDriver.
pub struct Chrome {
    driver: Child,
    base: String,
    session: String,
    http: Client,
    _profile: tempfile::TempDir,
}

impl Chrome {
    /// Whether both Chromium and chromedriver are installed.
    pub fn available() -> bool {
        driver_path().is_some() && chrome_path().is_some()
    }

    /// A phone: 360×640 CSS pixels at device pixel ratio 2, touch, mobile UA.
    pub fn phone() -> Self {
        Self::launch(json!({
            "deviceMetrics": { "width": 360, "height": 640, "pixelRatio": 2.0, "touch": true },
            "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
                          (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
        }))
    }

    /// A desktop browser window with a 1280×800 viewport.
    pub fn desktop() -> Self {
        Self::launch(json!({
            "deviceMetrics": { "width": 1280, "height": 800, "pixelRatio": 1.0 }
        }))
    }

    fn launch(mobile_emulation: Value) -> Self {
        let driver_bin = driver_path().expect("chromedriver is not installed");
        let chrome_bin = chrome_path().expect("chromium is not installed");
        let profile = tempfile::Builder::new()
            .prefix("authgate-chromium-")
            .tempdir()
            .expect("create a Chromium profile directory");
        let port = free_port();
        let mut driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let http = Client::builder()
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .expect("build the WebDriver HTTP client");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http
                .get(format!("{base}/status"))
                .send()
                .ok()
                .and_then(|r| r.text().ok())
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|v| v["value"]["ready"] == Value::Bool(true));
            if ready {
                break;
            }
            if let Ok(Some(status)) = driver.try_wait() {
                panic!("chromedriver exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            thread::sleep(Duration::from_millis(100));
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--disable-default-apps",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--force-color-profile=srgb",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "goog:chromeOptions": {
                    "binary": chrome_bin.to_string_lossy(),
                    "args": args,
                    "mobileEmulation": mobile_emulation,
                }
            }}
        });
        let mut chrome = Chrome {
            driver,
            base,
            session: String::new(),
            http,
            _profile: profile,
        };
        let v = chrome.call("POST", "/session", Some(caps));
        chrome.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {v}"))
            .to_owned();
        chrome
    }

    /// One WebDriver command; returns its `value`, panics on a WebDriver error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{}", self.base, path);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let resp = req.send().map_err(|e| e.to_string())?;
        let status = resp.status();
        let text = resp.text().map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        if status.is_success() {
            Ok(v["value"].clone())
        } else {
            Err(format!("{status}: {}", v["value"]))
        }
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{}", self.session, rest)
    }

    /// Opens a URL and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({ "url": url })));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.call("GET", &self.s("/url"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's HTML as the browser sees it now.
    pub fn source(&self) -> String {
        self.call("GET", &self.s("/source"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs a synchronous script and returns its result.
    pub fn exec(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// All elements matching a CSS selector.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        self.call(
            "POST",
            &self.s("/elements"),
            Some(json!({ "using": "css selector", "value": css })),
        )
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned())))
                .collect()
        })
        .unwrap_or_default()
    }

    /// The first element matching `css`, waiting for it to appear.
    #[track_caller]
    pub fn find(&self, css: &str) -> Element {
        self.wait_for(css)
    }

    /// Waits until an element matches `css` and returns it.
    #[track_caller]
    pub fn wait_for(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(e) = self.find_all(css).into_iter().next() {
                return e;
            }
            if Instant::now() > deadline {
                panic!(
                    "no element `{css}` on {} after {WAIT:?}; page:\n{}",
                    self.url(),
                    self.source()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the text of `css` contains `needle`; returns that text.
    #[track_caller]
    pub fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(e) = self.find_all(css).into_iter().next() {
                let t = self.text(&e);
                if t.contains(needle) {
                    return t;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "`{css}` never contained {needle:?} on {}; page:\n{}",
                    self.url(),
                    self.source()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The elements matching `css` inside `parent`.
    pub fn find_all_in(&self, parent: &Element, css: &str) -> Vec<Element> {
        self.call(
            "POST",
            &self.s(&format!("/element/{}/elements", parent.0)),
            Some(json!({ "using": "css selector", "value": css })),
        )
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned())))
                .collect()
        })
        .unwrap_or_default()
    }

    /// The rendered text of an element.
    pub fn text(&self, e: &Element) -> String {
        self.try_call("GET", &self.s(&format!("/element/{}/text", e.0)), None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// An element's property (`value`, `id`, …) as JSON.
    pub fn property(&self, e: &Element, name: &str) -> Value {
        self.call(
            "GET",
            &self.s(&format!("/element/{}/property/{name}", e.0)),
            None,
        )
    }

    /// Clears a field and types `text` into it, as a person would.
    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call("POST", &self.s(&format!("/element/{}/clear", e.0)), None);
        self.call(
            "POST",
            &self.s(&format!("/element/{}/value", e.0)),
            Some(json!({ "text": text })),
        );
    }

    /// Clicks the first element matching `css` (a real click: the browser scrolls to
    /// it and submits its form, following the redirect) and waits for the next page.
    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.click_element(&e);
    }

    /// Clicks an element that navigates (a link, a form's button) and waits until
    /// the next page has loaded.
    pub fn click_element(&self, e: &Element) {
        self.exec("window.__authgateOldPage = true;", json!([]));
        self.call("POST", &self.s(&format!("/element/{}/click", e.0)), None);
        let deadline = Instant::now() + WAIT;
        loop {
            let loaded = self
                .try_call(
                    "POST",
                    &self.s("/execute/sync"),
                    Some(json!({
                        "script": "return !window.__authgateOldPage && document.readyState === 'complete';",
                        "args": []
                    })),
                )
                .is_ok_and(|v| v == Value::Bool(true));
            if loaded {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no new page after a click on {}",
                self.url()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The id of the focused element (empty when it has none).
    pub fn focused_id(&self) -> String {
        self.exec(
            "return document.activeElement && document.activeElement.id || '';",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// `(scrollWidth, clientWidth)` of the document: the page scrolls sideways when
    /// the first is larger.
    pub fn widths(&self) -> (u64, u64) {
        let v = self.exec(
            "const d = document.documentElement; return [d.scrollWidth, d.clientWidth];",
            json!([]),
        );
        (
            v[0].as_u64().unwrap_or(0),
            v[1].as_u64().unwrap_or(u64::MAX),
        )
    }

    /// Emulates `prefers-color-scheme: dark` (or back to light).
    pub fn set_dark(&self, dark: bool) {
        let scheme = if dark { "dark" } else { "light" };
        self.call(
            "POST",
            &self.s("/goog/cdp/execute"),
            Some(json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": { "features": [{ "name": "prefers-color-scheme", "value": scheme }] }
            })),
        );
        // Let colour transitions finish before anyone takes a screenshot.
        thread::sleep(Duration::from_millis(400));
    }

    /// Saves a screenshot of the whole page (not only the viewport) as
    /// `tests/artifacts/NAME.png`, and into `docs/screenshots/` when asked (see
    /// [`artifacts_dir`]). Returns the artifact's path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let full = self.try_call(
            "POST",
            &self.s("/goog/cdp/execute"),
            Some(json!({
                "cmd": "Page.captureScreenshot",
                "params": { "format": "png", "captureBeyondViewport": true }
            })),
        );
        let b64 = match full {
            Ok(v) => v["data"].as_str().map(str::to_owned),
            Err(_) => None,
        }
        .unwrap_or_else(|| {
            self.call("GET", &self.s("/screenshot"), None)
                .as_str()
                .unwrap_or_default()
                .to_owned()
        });
        let png = base64_decode(&b64).expect("screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).expect("create tests/artifacts");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).expect("write screenshot");
        if let Some(docs) = docs_screenshots_dir() {
            std::fs::create_dir_all(&docs).expect("create docs/screenshots");
            std::fs::write(docs.join(format!("{name}.png")), &png).expect("write screenshot");
        }
        path
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.try_call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Decodes standard base64 (with or without padding); `None` on a bad character.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let clean: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::base64_decode;

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(
            base64_decode("AAEC/w==").as_deref(),
            Some(&[0, 1, 2, 255][..])
        );
        assert_eq!(base64_decode("a$"), None);
    }
}
