//! ESP32-C3: log in to AuthGate with the device flow.
//!
//! Joins Wi-Fi (and rejoins after a drop), gets an address by DHCP, and runs
//! `authgate_device::DeviceFlow` over the embassy transport. The code, the URI and a QR
//! code go to the serial console (the USB-serial-JTAG port `espflash monitor` reads).
//! Tokens are kept in the `nvs` data partition and reused after a reboot; the access
//! token is refreshed before it expires. Settings come from the build environment: see
//! `.cargo/config.toml`.
#![no_std]
#![no_main]

use authgate_device::embassy::{Step, Transport, now};
use authgate_device::{
    Config, DeviceFlow, Event, QR_BUFFER_LEN, Qr, TOKENS_MAX_BYTES, TextStyle, Tokens,
};
use embassy_embedded_hal::adapter::BlockingAsync;
use embassy_executor::Spawner;
use embassy_net::dns::DnsSocket;
use embassy_net::tcp::client::{TcpClient, TcpClientState};
use embassy_net::{Config as NetConfig, StackResources};
use embassy_time::Timer;
use esp_backtrace as _;
use esp_bootloader_esp_idf::partitions::{self, DataPartitionSubType, PartitionType};
use esp_hal::clock::CpuClock;
use esp_hal::rng::Rng;
use esp_hal::timer::timg::TimerGroup;
use esp_println::println;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{
    AuthenticationMethodConfig, Config as WifiConfig, Interface, WifiController,
};
use esp_storage::FlashStorage;
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapStorage};
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

type Store =
    MapStorage<u8, BlockingAsync<FlashStorage<'static>>, Cache<Uncached, Uncached, Uncached, u8>>;

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
    let timg0 = TimerGroup::new(p.TIMG0);
    esp_rtos::start(timg0.timer0, p.FROM_CPU_INTR0);

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
    stack.wait_config_up().await;
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
                // e.g. ESP-IDF NVS data left in the partition by another program
                println!("flash: token store unreadable ({e:?}); erasing it");
                let _ = store.erase_all().await;
                None
            }
        };
        let mut flow = match saved {
            Some(mut tokens) => {
                println!("using tokens saved in flash");
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
                        println!(
                            "\nOn your phone open {verification_uri}\nand enter the code {user_code}"
                        );
                        show_qr(verification_uri_complete.unwrap_or(verification_uri));
                    }
                    Event::Authorized(tokens) | Event::Refreshed(tokens) => {
                        let secs = tokens.remaining(now()).map_or(0, |d| d.as_secs());
                        println!("authorized; access token valid for {secs} s");
                        save = tokens.to_bytes(&mut record).ok().map(|b| b.len());
                    }
                    Event::TokensDiscarded | Event::LoggedOut { .. } => erase = true,
                    other => println!("{other:?}"),
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
                println!("flash: saving tokens failed ({e:?})");
            }
            if erase {
                let _ = store.remove_item(&mut record, &TOKENS_KEY).await;
            }
            match transport.step(&mut flow).await {
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
        Timer::after_secs(60).await;
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
