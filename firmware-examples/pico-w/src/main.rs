//! Raspberry Pi Pico W (RP2040 + CYW43439): log in to AuthGate with the device flow.
//!
//! The same file is the Raspberry Pi Pico 2 W's (RP2350 + CYW43439) firmware:
//! `../pico2-w` builds it for `thumbv8m.main-none-eabihf`, where `build.rs` sets cfg
//! `rp2350` (4 MiB of flash, the slower CYW43 bus clock the Pico 2 W needs, and a GPIO
//! button in place of BOOTSEL, which embassy-rp 0.10 reads on the RP2040 only).
//!
//! Joins Wi-Fi, gets an address by DHCP, and runs `authgate_device::DeviceFlow` over
//! the embassy transport. The code, the URI and a QR code go to the serial console
//! (UART0 TX on GP0, 115200 8N1). Tokens are kept in the last 16 KiB of flash and
//! reused after a reboot; the access token is refreshed before it expires.
//! Settings come from the build environment: see `.cargo/config.toml`.
//!
//! BOOTSEL signs out (revoke, forget, new code) and the LED shows the state: see
//! `controls.rs`. After each sign-in or refresh the board uses its token once: a `GET`
//! of `RESOURCE_URL` (see `../common/use_token.rs`).
//!
//! Self-recovery: the hardware watchdog (8.3 s at most on the RP2040) is fed by a small
//! task only while the main loop keeps beating (at least every [`STALL_LIMIT_MS`]), so
//! a hung loop, a hung flash write or a panic (panic-probe halts) ends in a reset. A
//! dropped Wi-Fi link (or five requests in a row without an answer) makes the loop
//! rejoin. A permanent error ([`Event::Failed`]) stays on the console and the screen
//! for a minute, then the board resets.
//! With feature `oled`, an SSD1306 128×64 I²C OLED (SDA GP4, SCL GP5, address 0x3C)
//! shows the code, the URI, a QR code and a status line.
//!
//! DPoP (feature `dpop`, on by default): on first boot the board makes an Ed25519 key
//! from the ROSC random bits and saves it in the same flash record as the tokens,
//! before it signs anything; every device authorization, token poll and refresh then
//! carries a proof, and the server binds the tokens to that key.
#![no_std]
#![no_main]

mod controls;
#[path = "../../common/use_token.rs"]
mod use_token;

use core::fmt::Write as _;

use authgate_device::embassy::{Step, Transport, now};
#[cfg(feature = "tls")]
use authgate_device::embassy::{TlsConfig, TlsVerify};
use authgate_device::{
    CodeView, Config, DEVICE_RECORD_MAX_BYTES, DeviceFlow, DeviceRecord, Event, QR_BUFFER_LEN, Qr,
    RecordRef, TextStyle, Tokens,
};
#[cfg(feature = "dpop")]
use authgate_device::{DpopConfig, DpopKey};
use cyw43::JoinOptions;
/// The CYW43 bus clock divider: the Pico 2 W's RM2 module needs a slower clock than
/// the RP2350's default would give (embassy's Pico 2 W examples do the same).
#[cfg(not(rp2350))]
use cyw43_pio::DEFAULT_CLOCK_DIVIDER as CYW43_CLOCK_DIVIDER;
use cyw43_pio::PioSpi;
#[cfg(rp2350)]
use cyw43_pio::RM2_CLOCK_DIVIDER as CYW43_CLOCK_DIVIDER;
use embassy_embedded_hal::adapter::BlockingAsync;
use embassy_executor::Spawner;
use embassy_net::dns::DnsSocket;
use embassy_net::tcp::client::{TcpClient, TcpClientState};
use embassy_net::{Config as NetConfig, StackResources};
use embassy_rp::clocks::RoscRng;
use embassy_rp::flash::{Blocking, Flash};
use embassy_rp::gpio::{Level, Output};
use embassy_rp::peripherals::{DMA_CH0, FLASH, PIO0};
use embassy_rp::pio::{InterruptHandler as PioIrq, Pio};
use embassy_rp::uart::{self, UartTx};
use embassy_rp::watchdog::Watchdog;
use embassy_rp::{bind_interrupts, dma};
use embassy_time::{Duration, Instant as EmbassyInstant, Timer};
use panic_probe as _;
use portable_atomic::{AtomicBool, AtomicU64, Ordering};
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapStorage};
#[cfg(feature = "tls")]
use static_cell::ConstStaticCell;
use static_cell::StaticCell;

bind_interrupts!(struct Irqs {
    PIO0_IRQ_0 => PioIrq<PIO0>;
    DMA_IRQ_0 => dma::InterruptHandler<DMA_CH0>;
});

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

/// Wi-Fi firmware from the `cyw43-firmware` crate, copied into a 4-byte aligned static.
static FIRMWARE: cyw43::Aligned<cyw43::A4, [u8; cyw43_firmware::CYW43_43439A0.len()]> =
    cyw43::Aligned(*cyw43_firmware::CYW43_43439A0);

/// The board's name for the console.
const BOARD: &str = if cfg!(rp2350) { "Pico 2 W" } else { "Pico W" };

/// Pico W: 2 MiB of QSPI flash; Pico 2 W: 4 MiB.
const FLASH_SIZE: usize = if cfg!(rp2350) { 4 } else { 2 } * 1024 * 1024;
/// Kept out of the program by `memory.x`; four 4 KiB sectors for wear levelling.
const TOKEN_STORE: core::ops::Range<u32> = (FLASH_SIZE as u32 - 16 * 1024)..FLASH_SIZE as u32;
const TOKENS_KEY: u8 = 0;

/// The server's CA certificate (DER), pinned (feature `tls`; see `build.rs`).
#[cfg(feature = "tls")]
static SERVER_CA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/server_ca.der"));
/// embedded-tls record buffers: a full TLS record (16 KiB + overhead) each way.
#[cfg(feature = "tls")]
const TLS_RECORD: usize = 16_640;

/// The hardware watchdog's period (the RP2040 allows at most ~8.3 s).
const WATCHDOG_TIMEOUT: Duration = Duration::from_secs(8);
/// The main loop must beat at least this often (ms). One step of the flow takes at
/// most the 30 s request timeout or the 5 s `max_sleep`; a flash write well under 1 s.
const STALL_LIMIT_MS: u64 = 60_000;
/// Last beat of the main loop, in embassy-time ms since boot.
static LAST_BEAT: AtomicU64 = AtomicU64::new(0);
/// Set to reset the board through the watchdog (after a permanent error).
static RESET: AtomicBool = AtomicBool::new(false);

/// Tells the watchdog task that the main loop is alive.
fn beat() {
    LAST_BEAT.store(EmbassyInstant::now().as_millis(), Ordering::Relaxed);
}

/// Consecutive requests without an answer after which the Wi-Fi is rejoined even if
/// the link looks up (an AP that still associates but no longer routes).
const REJOIN_AFTER_NO_ANSWERS: u8 = 5;

type Store = MapStorage<
    u8,
    BlockingAsync<Flash<'static, FLASH, Blocking, FLASH_SIZE>>,
    Cache<Uncached, Uncached, Uncached, u8>,
>;

/// The serial console: blocking writes to UART0.
struct Console(UartTx<'static, uart::Blocking>);

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for (i, line) in s.split('\n').enumerate() {
            let nl = if i > 0 { &b"\r\n"[..] } else { &[] };
            self.0
                .blocking_write(nl)
                .and_then(|()| self.0.blocking_write(line.as_bytes()))
                .map_err(|_| core::fmt::Error)?;
        }
        Ok(())
    }
}

#[embassy_executor::task]
async fn cyw43_task(
    runner: cyw43::Runner<'static, cyw43::SpiBus<Output<'static>, PioSpi<'static, PIO0, 0>>>,
) -> ! {
    runner.run().await
}

/// Feeds the watchdog while the main loop beats; stops feeding (so the board resets)
/// when it stalls for [`STALL_LIMIT_MS`], and resets at once when asked to.
#[embassy_executor::task]
async fn watchdog_task(mut wd: Watchdog) -> ! {
    wd.pause_on_debug(true);
    wd.start(WATCHDOG_TIMEOUT);
    loop {
        Timer::after_secs(1).await;
        if RESET.load(Ordering::Relaxed) {
            wd.trigger_reset();
        }
        let since = EmbassyInstant::now()
            .as_millis()
            .saturating_sub(LAST_BEAT.load(Ordering::Relaxed));
        if since < STALL_LIMIT_MS {
            wd.feed(WATCHDOG_TIMEOUT);
        }
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, cyw43::NetDriver<'static>>) -> ! {
    runner.run().await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    beat();
    spawner.spawn(watchdog_task(Watchdog::new(p.WATCHDOG)).unwrap());
    let mut con = Console(UartTx::new_blocking(
        p.UART0,
        p.PIN_0,
        uart::Config::default(),
    ));
    let _ = writeln!(con, "\nAuthGate on {BOARD}, server {SERVER_URL}");
    #[cfg(feature = "oled")]
    let mut screen = screen::Screen::new(embassy_rp::i2c::I2c::new_blocking(
        p.I2C0,
        p.PIN_5,
        p.PIN_4,
        embassy_rp::i2c::Config::default(),
    ));
    #[cfg(not(feature = "oled"))]
    let mut screen = screen::Screen;
    screen.show(Status::JoiningWifi, None);

    let nvram = cyw43::aligned_bytes!(concat!(env!("OUT_DIR"), "/nvram_rp2040.bin"));
    let pwr = Output::new(p.PIN_23, Level::Low);
    let cs = Output::new(p.PIN_25, Level::High);
    let mut pio = Pio::new(p.PIO0, Irqs);
    let dma = dma::Channel::new(p.DMA_CH0, Irqs);
    let spi = PioSpi::new(
        &mut pio.common,
        pio.sm0,
        CYW43_CLOCK_DIVIDER,
        pio.irq0,
        cs,
        p.PIN_24,
        p.PIN_29,
        dma,
    );
    static STATE: StaticCell<cyw43::State> = StaticCell::new();
    let (device, mut control, runner) =
        cyw43::new(STATE.init(cyw43::State::new()), pwr, spi, &FIRMWARE, nvram).await;
    spawner.spawn(cyw43_task(runner).unwrap());
    control.init(cyw43_firmware::CYW43_43439A0_CLM).await;
    control
        .set_power_management(cyw43::PowerManagementMode::PowerSave)
        .await;
    // The LED is on the CYW43: its task and the Wi-Fi code share the control.
    static CONTROL: StaticCell<controls::SharedControl> = StaticCell::new();
    let control = CONTROL.init(controls::SharedControl::new(control));
    spawner.spawn(controls::led_task(control).unwrap());
    #[cfg(not(rp2350))]
    spawner.spawn(controls::button_task(p.BOOTSEL).unwrap());
    #[cfg(rp2350)]
    spawner.spawn(
        controls::button_task(embassy_rp::gpio::Input::new(
            p.PIN_22,
            embassy_rp::gpio::Pull::Up,
        ))
        .unwrap(),
    );

    static RESOURCES: StaticCell<StackResources<4>> = StaticCell::new();
    let seed = RoscRng.next_u64();
    let (stack, runner) = embassy_net::new(
        device,
        NetConfig::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(net_task(runner).unwrap());
    join_wifi(control, stack, &mut con).await;

    let flash = Flash::<_, Blocking, FLASH_SIZE>::new_blocking(p.FLASH);
    let mut store: Store = MapStorage::new(
        BlockingAsync::new(flash),
        MapConfig::new(TOKEN_STORE),
        Cache::new_uncached(),
    );
    let mut record = [0u8; DEVICE_RECORD_MAX_BYTES + 32];
    let base = Config {
        restart_on_expiry: true,
        // Boards that lost the same server must not come back in lockstep.
        jitter_seed: Some(RoscRng.next_u64()),
        ..Config::new(CLIENT_ID)
    };
    #[cfg(feature = "dpop")]
    let key = dpop_key(&mut store, &mut record, &mut con).await;
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
            jti_seed: random_seed(),
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
        let _ = writeln!(con, "tls: built without SERVER_CA_DER; refusing to connect");
        screen.show(Status::Error("TLS image built without SERVER_CA_DER"), None);
        loop {
            beat();
            Timer::after_secs(1).await;
        }
    }
    loop {
        beat();
        // Saved tokens carry boot-relative expiry times: forget them, so the flow
        // refreshes at once and learns the real lifetime.
        let saved = load(&mut store, &mut record, &mut con).await.tokens;
        let mut flow = match saved {
            Some(mut tokens) => {
                let _ = writeln!(con, "using tokens saved in flash");
                tokens.forget_expiry();
                DeviceFlow::resume(config, tokens, now())
            }
            None => DeviceFlow::new(config, now()),
        };
        screen.show(Status::Connecting, None);
        let mut no_answers = 0u8;
        let (mut button, mut use_token) = (authgate_device::SignOutButton::new(), false);
        let resource_url = use_token::resource_url(SERVER_URL);
        loop {
            beat();
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
                        let _ = writeln!(
                            con,
                            "\nOn your phone open {verification_uri}\nand enter the code {user_code}"
                        );
                        let uri = verification_uri_complete.unwrap_or(verification_uri);
                        show_qr(&mut con, uri);
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
                        let _ = writeln!(con, "authorized; access token valid for {secs} s");
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
                    other => {
                        let _ = writeln!(con, "{other:?}");
                    }
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
                let _ = writeln!(con, "flash: saving tokens failed ({e:?})");
            }
            if let Some(e) = failed {
                // Permanent (a rejected client, a token this build cannot store):
                // retrying cannot help; show why, then start afresh from a reset.
                let mut text: heapless::String<96> = heapless::String::new();
                let _ = write!(text, "{e}; reset in 60 s");
                let _ = writeln!(con, "failed: {text}");
                screen.show(Status::Error(&text), None);
                controls::show(authgate_device::Indicator::Error);
                for _ in 0..60 {
                    beat();
                    Timer::after_secs(1).await;
                }
                RESET.store(true, Ordering::Relaxed);
                loop {
                    Timer::after_secs(1).await;
                }
            }
            // Drained and saved above: a sign-out's `LoggedOut` has erased the tokens.
            if let Some(action) = controls::tick(&mut button, &mut flow, stack.is_link_up()) {
                let _ = writeln!(con, "button: {action:?}");
                screen.show(Status::Connecting, None);
            }
            if !stack.is_link_up() || no_answers >= REJOIN_AFTER_NO_ANSWERS {
                let _ = writeln!(con, "Wi-Fi: link lost; rejoining");
                screen.show(Status::JoiningWifi, None);
                control.lock().await.leave().await;
                join_wifi(control, stack, &mut con).await;
                no_answers = 0;
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
                        RoscRng.next_u64(),
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
                    use_token::use_token(&mut transport, &mut flow, url, &mut con).await;
                }
                // Come round often enough to beat the watchdog, check the link and
                // take a button press promptly.
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
                Ok(Step::NoAnswer { kind, error }) => {
                    no_answers = no_answers.saturating_add(1);
                    let _ = writeln!(con, "{kind:?}: no answer ({error:?})");
                }
                Ok(Step::Answered { .. }) => no_answers = 0,
                Ok(_) => {}
                Err(e) => {
                    let _ = writeln!(con, "transport: {e:?}");
                    Timer::after_secs(5).await;
                }
            }
        }
        let _ = writeln!(
            con,
            "flow ended: {:?}; starting over in 60 s",
            flow.outcome()
        );
        screen.show(Status::Error("Not signed in; new code in 60 s"), None);
        controls::show(authgate_device::Indicator::Error);
        // A button press asks for the new code at once.
        for _ in 0..600 {
            beat();
            if controls::take_press() {
                break;
            }
            Timer::after_millis(100).await;
        }
    }
}

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

/// Reads the flash record; an unreadable store (another program's leftovers in this
/// range) is erased, an unreadable record ignored.
async fn load(store: &mut Store, buf: &mut [u8], con: &mut Console) -> DeviceRecord {
    match store.fetch_item::<&[u8]>(buf, &TOKENS_KEY).await {
        Ok(Some(bytes)) => DeviceRecord::from_bytes(bytes).unwrap_or_else(|e| {
            let _ = writeln!(con, "flash: saved record unreadable ({e}); ignoring it");
            DeviceRecord::default()
        }),
        Ok(None) => DeviceRecord::default(),
        Err(e) => {
            let _ = writeln!(con, "flash: token store unreadable ({e:?}); erasing it");
            let _ = store.erase_all().await;
            DeviceRecord::default()
        }
    }
}

/// The board's DPoP key: the one in flash, or on first boot a new one from the ROSC,
/// saved (beside any tokens already there) before it signs anything. Tokens bound to
/// a key that was not saved would be lost at the next reboot.
#[cfg(feature = "dpop")]
async fn dpop_key(store: &mut Store, buf: &mut [u8], con: &mut Console) -> DpopKey {
    let saved = load(store, buf, con).await;
    if let Some(key) = saved.dpop_key {
        let _ = writeln!(con, "dpop: key from flash, thumbprint {}", key.thumbprint());
        return key;
    }
    let key = DpopKey::from_seed(random_seed());
    let len = record_of(saved.tokens.as_ref(), &key)
        .to_bytes(buf)
        .map(|b| b.len());
    match len {
        Ok(len) => {
            if let Err(e) = store
                .store_item(
                    &mut [0u8; DEVICE_RECORD_MAX_BYTES + 32],
                    &TOKENS_KEY,
                    &&buf[..len],
                )
                .await
            {
                let _ = writeln!(con, "flash: saving the DPoP key failed ({e:?})");
            }
        }
        Err(e) => {
            let _ = writeln!(con, "dpop: encoding the key failed ({e})");
        }
    }
    let _ = writeln!(con, "dpop: new key, thumbprint {}", key.thumbprint());
    key
}

/// 32 bytes from the ROSC's random bit (the RP2040 has no other entropy source).
#[cfg(feature = "dpop")]
fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    RoscRng.fill_bytes(&mut seed);
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

/// Joins the configured network (retrying every 2 s) and waits for DHCP, beating all
/// along so the watchdog waits too.
async fn join_wifi(
    control: &controls::SharedControl,
    stack: embassy_net::Stack<'_>,
    con: &mut Console,
) {
    controls::show(authgate_device::Indicator::JoiningWifi);
    loop {
        beat();
        // Locked per attempt: between attempts the LED task blinks.
        let joined = control
            .lock()
            .await
            .join(WIFI_SSID, JoinOptions::new(WIFI_PASSWORD.as_bytes()))
            .await;
        match joined {
            Ok(()) => break,
            Err(e) => {
                let _ = writeln!(con, "Wi-Fi: join {WIFI_SSID} failed ({e:?}); retrying");
                Timer::after_secs(2).await;
            }
        }
    }
    let _ = writeln!(con, "Wi-Fi: joined {WIFI_SSID}, waiting for DHCP");
    while !stack.is_config_up() {
        beat();
        Timer::after_millis(200).await;
    }
    if let Some(cfg) = stack.config_v4() {
        let _ = writeln!(con, "IP address {}", cfg.address);
    }
}

use screen::Status;

/// The OLED (feature `oled`): the same screen `display-preview` renders on a PC.
#[cfg(feature = "oled")]
mod screen {
    use authgate_device::CodeView;
    pub use authgate_device::display::Status;
    use authgate_device::display::draw_screen;
    use embassy_rp::i2c::{Blocking, I2c};
    use embassy_rp::peripherals::I2C0;
    use ssd1306::mode::BufferedGraphicsMode;
    use ssd1306::prelude::*;
    use ssd1306::{I2CDisplayInterface, Ssd1306};

    type Oled = Ssd1306<
        I2CInterface<I2c<'static, I2C0, Blocking>>,
        DisplaySize128x64,
        BufferedGraphicsMode<DisplaySize128x64>,
    >;

    /// The display, or `None` if none answered at start-up (the console still works).
    pub struct Screen(Option<Oled>);

    impl Screen {
        /// Initialises the SSD1306 at I²C address 0x3C.
        pub fn new(i2c: I2c<'static, I2C0, Blocking>) -> Self {
            let mut oled = Ssd1306::new(
                I2CDisplayInterface::new(i2c),
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
fn show_qr(con: &mut Console, uri: &str) {
    let (mut out, mut temp) = ([0u8; QR_BUFFER_LEN], [0u8; QR_BUFFER_LEN]);
    match Qr::encode(uri, &mut out, &mut temp) {
        Ok(qr) => {
            let _ = qr.render_text(con, TextStyle::HalfBlocks, 2, true);
        }
        Err(e) => {
            let _ = writeln!(con, "(no QR code: {e})");
        }
    }
}
