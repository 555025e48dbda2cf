//! Raspberry Pi Pico W (RP2040 + CYW43439): log in to AuthGate with the device flow.
//!
//! Joins Wi-Fi, gets an address by DHCP, and runs `authgate_device::DeviceFlow` over
//! the embassy transport. The code, the URI and a QR code go to the serial console
//! (UART0 TX on GP0, 115200 8N1). Tokens are kept in the last 16 KiB of flash and
//! reused after a reboot; the access token is refreshed before it expires.
//! Settings come from the build environment: see `.cargo/config.toml`.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use authgate_device::embassy::{Step, Transport, now};
use authgate_device::{
    Config, DeviceFlow, Event, QR_BUFFER_LEN, Qr, TOKENS_MAX_BYTES, TextStyle, Tokens,
};
use cyw43::JoinOptions;
use cyw43_pio::{DEFAULT_CLOCK_DIVIDER, PioSpi};
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
use embassy_rp::{bind_interrupts, dma};
use embassy_time::Timer;
use panic_probe as _;
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapStorage};
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

const FLASH_SIZE: usize = 2 * 1024 * 1024;
/// Kept out of the program by `memory.x`; four 4 KiB sectors for wear levelling.
const TOKEN_STORE: core::ops::Range<u32> = (FLASH_SIZE as u32 - 16 * 1024)..FLASH_SIZE as u32;
const TOKENS_KEY: u8 = 0;

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

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, cyw43::NetDriver<'static>>) -> ! {
    runner.run().await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    let mut con = Console(UartTx::new_blocking(
        p.UART0,
        p.PIN_0,
        uart::Config::default(),
    ));
    let _ = writeln!(con, "\nAuthGate on Pico W, server {SERVER_URL}");

    let nvram = cyw43::aligned_bytes!(concat!(env!("OUT_DIR"), "/nvram_rp2040.bin"));
    let pwr = Output::new(p.PIN_23, Level::Low);
    let cs = Output::new(p.PIN_25, Level::High);
    let mut pio = Pio::new(p.PIO0, Irqs);
    let dma = dma::Channel::new(p.DMA_CH0, Irqs);
    let spi = PioSpi::new(
        &mut pio.common,
        pio.sm0,
        DEFAULT_CLOCK_DIVIDER,
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

    static RESOURCES: StaticCell<StackResources<4>> = StaticCell::new();
    let seed = RoscRng.next_u64();
    let (stack, runner) = embassy_net::new(
        device,
        NetConfig::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(net_task(runner).unwrap());

    while let Err(e) = control
        .join(WIFI_SSID, JoinOptions::new(WIFI_PASSWORD.as_bytes()))
        .await
    {
        let _ = writeln!(con, "Wi-Fi: join {WIFI_SSID} failed ({e:?}); retrying");
        Timer::after_secs(2).await;
    }
    let _ = writeln!(con, "Wi-Fi: joined {WIFI_SSID}, waiting for DHCP");
    stack.wait_config_up().await;
    if let Some(cfg) = stack.config_v4() {
        let _ = writeln!(con, "IP address {}", cfg.address);
    }

    let flash = Flash::<_, Blocking, FLASH_SIZE>::new_blocking(p.FLASH);
    let mut store: Store = MapStorage::new(
        BlockingAsync::new(flash),
        MapConfig::new(TOKEN_STORE),
        Cache::new_uncached(),
    );
    let mut record = [0u8; TOKENS_MAX_BYTES + 32];
    let config = Config {
        restart_on_expiry: true,
        ..Config::new(CLIENT_ID)
    };

    let tcp_state = TcpClientState::<1, 1024, 1024>::new();
    let tcp = TcpClient::new(stack, &tcp_state);
    let dns = DnsSocket::new(stack);
    let (mut form, mut rx) = ([0u8; authgate_device::REQUEST_BUFFER_LEN], [0u8; 4096]);
    let mut transport = Transport::new(&tcp, &dns, SERVER_URL, &mut form, &mut rx);

    loop {
        // Saved tokens carry boot-relative expiry times: forget them, so the flow
        // refreshes at once and learns the real lifetime.
        let saved = match store.fetch_item::<&[u8]>(&mut record, &TOKENS_KEY).await {
            Ok(Some(bytes)) => Tokens::from_bytes(bytes).ok(),
            Ok(None) => None,
            Err(e) => {
                // e.g. leftovers of another program in this flash range
                let _ = writeln!(con, "flash: token store unreadable ({e:?}); erasing it");
                let _ = store.erase_all().await;
                None
            }
        };
        let mut flow = match saved {
            Some(mut tokens) => {
                let _ = writeln!(con, "using tokens saved in flash");
                tokens.forget_expiry();
                DeviceFlow::resume(config, tokens, now())
            }
            None => DeviceFlow::new(config, now()),
        };
        loop {
            let mut save = None;
            let mut erase = false;
            while let Some(event) = flow.poll_event() {
                match event {
                    Event::ShowCode {
                        user_code,
                        verification_uri,
                        verification_uri_complete,
                        ..
                    } => {
                        let _ = writeln!(
                            con,
                            "\nOn your phone open {verification_uri}\nand enter the code {user_code}"
                        );
                        show_qr(
                            &mut con,
                            verification_uri_complete.unwrap_or(verification_uri),
                        );
                    }
                    Event::Authorized(tokens) | Event::Refreshed(tokens) => {
                        let secs = tokens.remaining(now()).map_or(0, |d| d.as_secs());
                        let _ = writeln!(con, "authorized; access token valid for {secs} s");
                        save = tokens.to_bytes(&mut record).ok().map(|b| b.len());
                    }
                    Event::TokensDiscarded | Event::LoggedOut { .. } => erase = true,
                    other => {
                        let _ = writeln!(con, "{other:?}");
                    }
                }
            }
            if let Some(len) = save
                && let Err(e) = store
                    .store_item(
                        &mut [0u8; TOKENS_MAX_BYTES + 32],
                        &TOKENS_KEY,
                        &&record[..len],
                    )
                    .await
            {
                let _ = writeln!(con, "flash: saving tokens failed ({e:?})");
            }
            if erase {
                let _ = store.remove_item(&mut record, &TOKENS_KEY).await;
            }
            match transport.step(&mut flow).await {
                Ok(Step::Idle) => break,
                Ok(Step::NoAnswer { kind, error }) => {
                    let _ = writeln!(con, "{kind:?}: no answer ({error:?})");
                }
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
        Timer::after_secs(60).await;
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
