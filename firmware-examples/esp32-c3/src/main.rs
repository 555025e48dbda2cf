//! ESP32-C3: log in to AuthGate with the device flow.
//!
//! Joins Wi-Fi (and rejoins after a drop), gets an address by DHCP, and runs
//! `authgate_device::DeviceFlow` over the embassy transport. The code, the URI and a QR
//! code go to the serial console (the USB-serial-JTAG port `espflash monitor` reads).
//! Tokens are kept in the `nvs` data partition and reused after a reboot; the access
//! token is refreshed before it expires. Settings come from the build environment: see
//! `.cargo/config.toml`.
//!
//! BOOT (GPIO9) signs out (revoke, forget, new code) and an LED (GPIO8 unless
//! `LED_GPIO` says otherwise) shows the state: see `controls.rs`. After each sign-in or
//! refresh the board uses its token once: a `GET` of `RESOURCE_URL` (see
//! `../common/use_token.rs`).
//!
//! Self-recovery: the RTC watchdog (RWDT, stage 0 resets the system) is armed for
//! [`WATCHDOG_TIMEOUT`] and fed by every turn of the main loop, which comes round at
//! least every 35 s (30 s request timeout, 5 s `max_sleep`); a hung loop or a panic
//! (esp-backtrace halts) ends in a reset. A permanent error ([`Event::Failed`]) stays
//! on the console and the screen for a minute, then the board resets.
//! With feature `oled`, an SSD1306 128×64 I²C OLED (SDA GPIO4, SCL GPIO5, address 0x3C)
//! shows the code, the URI, a QR code and a status line.
//!
//! DPoP (feature `dpop`, on by default): on first boot the board makes an Ed25519 key
//! from its hardware RNG (after Wi-Fi is up, when the RF noise makes it a true RNG)
//! and saves it in the same flash record as the tokens, before it signs anything;
//! every device authorization, token poll and refresh then carries a proof, and the
//! server binds the tokens to that key.
#![no_std]
#![no_main]

mod controls;
#[path = "../../common/use_token.rs"]
mod use_token;

use authgate_device::embassy::{Step, Transport, now};
#[cfg(feature = "tls")]
use authgate_device::embassy::{TlsConfig, TlsVerify};
use authgate_device::{
    CodeView, Config, DEVICE_RECORD_MAX_BYTES, DeviceFlow, DeviceRecord, Event, QR_BUFFER_LEN, Qr,
    RecordRef, TextStyle, Tokens,
};
#[cfg(feature = "dpop")]
use authgate_device::{DpopConfig, DpopKey};
use core::fmt::Write as _;
use embassy_embedded_hal::adapter::BlockingAsync;
use embassy_executor::Spawner;
use embassy_net::dns::DnsSocket;
use embassy_net::tcp::client::{TcpClient, TcpClientState};
use embassy_net::{Config as NetConfig, StackResources};
use embassy_time::{Duration, Timer};
use esp_backtrace as _;
use esp_bootloader_esp_idf::partitions::{self, DataPartitionSubType, PartitionType};
use esp_hal::clock::CpuClock;
use esp_hal::rng::Rng;
use esp_hal::rtc_cntl::{Rtc, RwdtStage};
use esp_hal::timer::timg::TimerGroup;
use esp_println::println;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{
    AuthenticationMethodConfig, Config as WifiConfig, Interface, WifiController,
};
use esp_storage::FlashStorage;
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapStorage};
#[cfg(feature = "tls")]
use static_cell::ConstStaticCell;
use static_cell::StaticCell;

esp_bootloader_esp_idf::esp_app_desc!();

const WIFI_SSID: &str = env!(
    "WIFI_SSID",
    "set WIFI_SSID at build time (see .cargo/config.toml)"
);
const WIFI_PASSWORD: &str = env!("WIFI_PASSWORD", "set WIFI_PASSWORD at build time");
const SERVER_URL: &str = env!(
    "SERVER_URL",
    "set SERVER_URL (http://host:port) at build time"
);
const CLIENT_ID: &str = env!("CLIENT_ID", "set CLIENT_ID at build time");
const TOKENS_KEY: u8 = 0;

/// The server's CA certificate (DER), pinned (feature `tls`; see `build.rs`).
#[cfg(feature = "tls")]
static SERVER_CA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/server_ca.der"));
/// embedded-tls record buffers: a full TLS record (16 KiB + overhead) each way.
#[cfg(feature = "tls")]
const TLS_RECORD: usize = 16_640;

/// RWDT period: longer than one turn of the main loop (at most ~35 s) plus a flash
/// write, short enough that a hung board is back within a minute and a half.
const WATCHDOG_TIMEOUT: esp_hal::time::Duration = esp_hal::time::Duration::from_secs(90);

type Store =
    MapStorage<u8, BlockingAsync<FlashStorage<'static>>, Cache<Uncached, Uncached, Uncached, u8>>;

/// esp-println's console as a `core::fmt::Write`.
struct Console;

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        esp_println::print!("{s}");
        Ok(())
    }
}

/// Keeps the station associated: joins, waits for a disconnect, backs off, joins again.
#[embassy_executor::task]
async fn connection_task(mut controller: WifiController<'static>) {
    let config = WifiConfig::Station(
        StationConfig::default()
            .with_ssid(WIFI_SSID.try_into().unwrap())
            .with_authentication(AuthenticationMethodConfig::Wpa2Personal(
                WIFI_PASSWORD.try_into().unwrap(),
            )),
    );
    controller.set_config(&config).unwrap();
    loop {
        match controller.connect_async().await {
            Ok(_) => {
                println!("Wi-Fi: joined {WIFI_SSID}");
                let _ = controller.wait_for_disconnect_async().await;
                println!("Wi-Fi: disconnected");
            }
            Err(e) => println!("Wi-Fi: join {WIFI_SSID} failed: {e:?}; retrying"),
        }
        Timer::after_secs(2).await;
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, Interface>) -> ! {
    runner.run().await
}

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    let p = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: 36 * 1024);
    let mut rtc = Rtc::new(p.RTC_TIMER);
    rtc.rwdt.set_timeout(RwdtStage::Stage0, WATCHDOG_TIMEOUT);
    rtc.rwdt.enable();
    #[cfg(feature = "oled")]
    let mut screen = screen::Screen::new(p.I2C0, p.GPIO4, p.GPIO5);
    #[cfg(not(feature = "oled"))]
    let mut screen = screen::Screen;
    screen.show(Status::JoiningWifi, None);
    let timg0 = TimerGroup::new(p.TIMG0);
    esp_rtos::start(timg0.timer0, p.FROM_CPU_INTR0);
    {
        use esp_hal::gpio::{AnyPin, Input, InputConfig, Output, OutputConfig, Pull};
        let boot = Input::new(p.GPIO9, InputConfig::default().with_pull(Pull::Up));
        spawner.spawn(controls::button_task(boot).unwrap());
        // `controls` checks LED_GPIO at compile time; the last arm is GPIO8.
        let led: AnyPin<'static> = match controls::LED_GPIO {
            0 => p.GPIO0.into(),
            1 => p.GPIO1.into(),
            2 => p.GPIO2.into(),
            3 => p.GPIO3.into(),
            6 => p.GPIO6.into(),
            7 => p.GPIO7.into(),
            10 => p.GPIO10.into(),
            _ => p.GPIO8.into(),
        };
        let led = Output::new(led, controls::LED_OFF, OutputConfig::default());
        spawner.spawn(controls::led_task(led).unwrap());
    }

    let controller = WifiController::new(p.WIFI, Default::default()).unwrap();
    let rng = Rng::new();
    let seed = (u64::from(rng.random()) << 32) | u64::from(rng.random());
    static RESOURCES: StaticCell<StackResources<4>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        Interface::station(),
        NetConfig::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(connection_task(controller).unwrap());
    spawner.spawn(net_task(runner).unwrap());
    println!("AuthGate on ESP32-C3, server {SERVER_URL}; waiting for Wi-Fi and DHCP");
    while !stack.is_config_up() {
        rtc.rwdt.feed();
        Timer::after_millis(200).await;
    }
    if let Some(cfg) = stack.config_v4() {
        println!("IP address {}", cfg.address);
    }

    let mut flash = FlashStorage::new(p.FLASH);
    let mut table = [0u8; partitions::PARTITION_TABLE_MAX_LEN];
    let nvs = partitions::read_partition_table(&mut flash, &mut table)
        .unwrap()
        .find_partition(PartitionType::Data(DataPartitionSubType::Nvs))
        .unwrap()
        .unwrap();
    let range = nvs.offset()..nvs.offset() + nvs.len();
    let mut store: Store = MapStorage::new(
        BlockingAsync::new(flash),
        MapConfig::new(range),
        Cache::new_uncached(),
    );
    let mut record = [0u8; DEVICE_RECORD_MAX_BYTES + 32];
    let base = Config {
        restart_on_expiry: true,
        // Boards that lost the same server must not come back in lockstep.
        jitter_seed: Some((u64::from(rng.random()) << 32) | u64::from(rng.random())),
        ..Config::new(CLIENT_ID)
    };
    #[cfg(feature = "dpop")]
    let key = dpop_key(&mut store, &mut record, &rng).await;
    #[cfg(not(feature = "dpop"))]
    let key = ();
    #[cfg(feature = "dpop")]
    let (authorization_url, token_url) = (
        server_url(base.device_authorization_path),
        server_url(base.token_path),
    );
    let config = Config {
        #[cfg(feature = "dpop")]
        dpop: Some(DpopConfig {
            key: &key,
            jti_seed: random_seed(&rng),
            device_authorization_url: &authorization_url,
            token_url: &token_url,
        }),
        ..base
    };

    let tcp_state = TcpClientState::<1, 1024, 1024>::new();
    let tcp = TcpClient::new(stack, &tcp_state);
    let dns = DnsSocket::new(stack);
    let (mut form, mut rx) = ([0u8; authgate_device::REQUEST_BUFFER_LEN], [0u8; 4096]);
    #[cfg(feature = "tls")]
    let (tls_rx, tls_tx) = {
        static RX: ConstStaticCell<[u8; TLS_RECORD]> = ConstStaticCell::new([0; TLS_RECORD]);
        static TX: ConstStaticCell<[u8; TLS_RECORD]> = ConstStaticCell::new([0; TLS_RECORD]);
        (RX.take(), TX.take())
    };

    // A TLS image without a pinned CA would trust nobody or everybody: neither.
    #[cfg(feature = "tls")]
    if SERVER_CA.is_empty() {
        println!("tls: built without SERVER_CA_DER; refusing to connect");
        screen.show(Status::Error("TLS image built without SERVER_CA_DER"), None);
        loop {
            rtc.rwdt.feed();
            Timer::after_secs(1).await;
        }
    }
    loop {
        rtc.rwdt.feed();
        // Saved tokens carry boot-relative expiry times: forget them, so the flow
        // refreshes at once and learns the real lifetime.
        let saved = load(&mut store, &mut record).await.tokens;
        let mut flow = match saved {
            Some(mut tokens) => {
                println!("using tokens saved in flash");
                tokens.forget_expiry();
                DeviceFlow::resume(config, tokens, now())
            }
            None => DeviceFlow::new(config, now()),
        };
        screen.show(Status::Connecting, None);
        let (mut button, mut use_token) = (authgate_device::SignOutButton::new(), false);
        let resource_url = use_token::resource_url(SERVER_URL);
        loop {
            rtc.rwdt.feed();
            let mut save = None;
            let mut failed = None;
            while let Some(event) = flow.poll_event() {
                match event {
                    Event::ShowCode {
                        user_code,
                        verification_uri,
                        verification_uri_complete,
                        expires_at,
                    } => {
                        println!(
                            "\nOn your phone open {verification_uri}\nand enter the code {user_code}"
                        );
                        show_qr(verification_uri_complete.unwrap_or(verification_uri));
                        let code = CodeView {
                            user_code,
                            verification_uri,
                            verification_uri_complete,
                            expires_at,
                        };
                        screen.show(Status::WaitingForApproval, Some(&code));
                    }
                    Event::Authorized(tokens) | Event::Refreshed(tokens) => {
                        let secs = tokens.remaining(now()).map_or(0, |d| d.as_secs());
                        println!("authorized; access token valid for {secs} s");
                        save = record_of(Some(tokens), &key)
                            .to_bytes(&mut record)
                            .ok()
                            .map(|b| b.len());
                        screen.show(Status::SignedIn, None);
                    }
                    // Signed out: the tokens go, the key stays.
                    Event::TokensDiscarded | Event::LoggedOut { .. } => {
                        save = record_of(None, &key)
                            .to_bytes(&mut record)
                            .ok()
                            .map(|b| b.len());
                    }
                    Event::Failed(e) => failed = Some(e),
                    other => println!("{other:?}"),
                }
            }
            if let Some(len) = save
                && let Err(e) = store
                    .store_item(
                        &mut [0u8; DEVICE_RECORD_MAX_BYTES + 32],
                        &TOKENS_KEY,
                        &&record[..len],
                    )
                    .await
            {
                println!("flash: saving tokens failed ({e:?})");
            }
            if let Some(e) = failed {
                // Permanent (a rejected client, a token this build cannot store):
                // retrying cannot help; show why, then start afresh from a reset.
                let mut text: heapless::String<96> = heapless::String::new();
                let _ = write!(text, "{e}; reset in 60 s");
                println!("failed: {text}");
                screen.show(Status::Error(&text), None);
                controls::show(authgate_device::Indicator::Error);
                for _ in 0..60 {
                    rtc.rwdt.feed();
                    Timer::after_secs(1).await;
                }
                esp_hal::system::software_reset();
            }
            // Drained and saved above: a sign-out's `LoggedOut` has erased the tokens.
            if let Some(action) = controls::tick(&mut button, &mut flow, stack.is_config_up()) {
                println!("button: {action:?}");
                screen.show(Status::Connecting, None);
            }
            let step = {
                #[cfg(not(feature = "tls"))]
                let mut transport = Transport::new(&tcp, &dns, SERVER_URL, &mut form, &mut rx);
                // reqwless seeds its TLS RNG from the config on every connection, so one
                // config would repeat the ECDHE key and client random on each handshake:
                // a fresh seed from the hardware RNG per request (one request per step).
                #[cfg(feature = "tls")]
                let mut transport = Transport::new_with_tls(
                    &tcp,
                    &dns,
                    TlsConfig::new(
                        (u64::from(rng.random()) << 32) | u64::from(rng.random()),
                        &mut *tls_rx,
                        &mut *tls_tx,
                        TlsVerify::Certificate {
                            ca: SERVER_CA,
                            cert: None,
                            key: None,
                        },
                    ),
                    SERVER_URL,
                    &mut form,
                    &mut rx,
                );
                if core::mem::take(&mut use_token)
                    && let Some(url) = &resource_url
                {
                    use_token::use_token(&mut transport, &mut flow, url, &mut Console).await;
                }
                // Come round often enough to beat the watchdog and take a button press
                // promptly.
                transport.set_max_sleep(Some(Duration::from_millis(250)));
                transport.step(&mut flow).await
            };
            // New tokens: use them once (next turn, after their events were handled).
            use_token |= matches!(
                step,
                Ok(Step::Answered {
                    kind: authgate_device::RequestKind::PollToken
                        | authgate_device::RequestKind::Refresh,
                    ..
                })
            ) && flow.is_authorized();
            match step {
                Ok(Step::Idle) if flow.is_authorized() => {
                    // Holding a token that never expires: nothing to do but stay alive.
                    Timer::after_secs(5).await;
                }
                Ok(Step::Idle) => break,
                Ok(Step::NoAnswer { kind, error }) => println!("{kind:?}: no answer ({error:?})"),
                Ok(_) => {}
                Err(e) => {
                    println!("transport: {e:?}");
                    Timer::after_secs(5).await;
                }
            }
        }
        println!("flow ended: {:?}; starting over in 60 s", flow.outcome());
        screen.show(Status::Error("Not signed in; new code in 60 s"), None);
        controls::show(authgate_device::Indicator::Error);
        // A button press asks for the new code at once.
        for _ in 0..600 {
            rtc.rwdt.feed();
            if controls::take_press() {
                break;
            }
            Timer::after_millis(100).await;
        }
    }
}

use screen::Status;

/// The key a flash record keeps beside the tokens: the DPoP key, or nothing.
#[cfg(feature = "dpop")]
type Key = DpopKey;
#[cfg(not(feature = "dpop"))]
type Key = ();

/// The flash record for `tokens` (`None`: signed out) and the board's key.
fn record_of<'a>(tokens: Option<&'a Tokens>, key: &'a Key) -> RecordRef<'a> {
    let record = RecordRef::default().with_tokens(tokens);
    #[cfg(feature = "dpop")]
    let record = record.with_dpop_key(Some(key));
    #[cfg(not(feature = "dpop"))]
    let () = *key;
    record
}

/// Reads the flash record; an unreadable store (e.g. ESP-IDF NVS data left in the
/// partition by another program) is erased, an unreadable record ignored.
async fn load(store: &mut Store, buf: &mut [u8]) -> DeviceRecord {
    match store.fetch_item::<&[u8]>(buf, &TOKENS_KEY).await {
        Ok(Some(bytes)) => DeviceRecord::from_bytes(bytes).unwrap_or_else(|e| {
            println!("flash: saved record unreadable ({e}); ignoring it");
            DeviceRecord::default()
        }),
        Ok(None) => DeviceRecord::default(),
        Err(e) => {
            println!("flash: token store unreadable ({e:?}); erasing it");
            let _ = store.erase_all().await;
            DeviceRecord::default()
        }
    }
}

/// The board's DPoP key: the one in flash, or on first boot a new one from the
/// hardware RNG, saved (beside any tokens already there) before it signs anything.
/// Tokens bound to a key that was not saved would be lost at the next reboot.
#[cfg(feature = "dpop")]
async fn dpop_key(store: &mut Store, buf: &mut [u8], rng: &Rng) -> DpopKey {
    let saved = load(store, buf).await;
    if let Some(key) = saved.dpop_key {
        println!("dpop: key from flash, thumbprint {}", key.thumbprint());
        return key;
    }
    let key = DpopKey::from_seed(random_seed(rng));
    match record_of(saved.tokens.as_ref(), &key).to_bytes(buf) {
        Ok(bytes) => {
            let len = bytes.len();
            if let Err(e) = store
                .store_item(
                    &mut [0u8; DEVICE_RECORD_MAX_BYTES + 32],
                    &TOKENS_KEY,
                    &&buf[..len],
                )
                .await
            {
                println!("flash: saving the DPoP key failed ({e:?})");
            }
        }
        Err(e) => println!("dpop: encoding the key failed ({e})"),
    }
    println!("dpop: new key, thumbprint {}", key.thumbprint());
    key
}

/// 32 bytes from the hardware RNG (a true RNG while the radio runs).
#[cfg(feature = "dpop")]
fn random_seed(rng: &Rng) -> [u8; 32] {
    let mut seed = [0u8; 32];
    rng.read(&mut seed);
    seed
}

/// `SERVER_URL` plus `path`: the `htu` of a proof for that endpoint.
#[cfg(feature = "dpop")]
fn server_url(path: &str) -> heapless::String<{ authgate_device::embassy::URL_CAP }> {
    let mut url = heapless::String::new();
    if url.push_str(SERVER_URL.trim_end_matches('/')).is_err() || url.push_str(path).is_err() {
        panic!("SERVER_URL is too long");
    }
    url
}

/// The OLED (feature `oled`): the same screen `display-preview` renders on a PC.
#[cfg(feature = "oled")]
mod screen {
    use authgate_device::CodeView;
    pub use authgate_device::display::Status;
    use authgate_device::display::draw_screen;
    use esp_hal::Blocking;
    use esp_hal::i2c::master::{Config, I2c};
    use esp_hal::peripherals::{GPIO4, GPIO5, I2C0};
    use ssd1306::mode::BufferedGraphicsMode;
    use ssd1306::prelude::*;
    use ssd1306::{I2CDisplayInterface, Ssd1306};

    type Oled = Ssd1306<
        I2CInterface<I2c<'static, Blocking>>,
        DisplaySize128x64,
        BufferedGraphicsMode<DisplaySize128x64>,
    >;

    /// The display, or `None` if none answered at start-up (the console still works).
    pub struct Screen(Option<Oled>);

    impl Screen {
        /// Initialises the SSD1306 at I²C address 0x3C on SDA GPIO4, SCL GPIO5.
        pub fn new(i2c: I2C0<'static>, sda: GPIO4<'static>, scl: GPIO5<'static>) -> Self {
            let Ok(i2c) = I2c::new(i2c, Config::default()) else {
                return Screen(None);
            };
            let mut oled = Ssd1306::new(
                I2CDisplayInterface::new(i2c.with_sda(sda).with_scl(scl)),
                DisplaySize128x64,
                DisplayRotation::Rotate0,
            )
            .into_buffered_graphics_mode();
            Screen(oled.init().ok().map(|()| oled))
        }

        /// Draws the screen; a display that stopped answering is left alone.
        pub fn show(&mut self, status: Status<'_>, code: Option<&CodeView<'_>>) {
            if let Some(oled) = self.0.as_mut()
                && draw_screen(oled, status, code).is_ok()
            {
                let _ = oled.flush();
            }
        }
    }
}

/// Without feature `oled` the console says it all; the status is dropped.
#[cfg(not(feature = "oled"))]
mod screen {
    use authgate_device::CodeView;

    /// What the board is doing (the `oled` build draws it; here nothing reads it).
    #[allow(dead_code)]
    pub enum Status<'a> {
        JoiningWifi,
        Connecting,
        WaitingForApproval,
        SignedIn,
        Error(&'a str),
    }

    /// No display.
    pub struct Screen;

    impl Screen {
        /// Does nothing.
        pub fn show(&mut self, _status: Status<'_>, _code: Option<&CodeView<'_>>) {}
    }
}

/// Prints `uri` as a QR code of Unicode half blocks (light-on-dark terminal).
fn show_qr(uri: &str) {
    let (mut out, mut temp) = ([0u8; QR_BUFFER_LEN], [0u8; QR_BUFFER_LEN]);
    match Qr::encode(uri, &mut out, &mut temp) {
        Ok(qr) => {
            let _ = qr.render_text(&mut Printer, TextStyle::HalfBlocks, 2, true);
        }
        Err(e) => println!("(no QR code: {e})"),
    }
}

/// `core::fmt::Write` onto esp-println's console.
struct Printer;

impl core::fmt::Write for Printer {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        esp_println::print!("{s}");
        Ok(())
    }
}
