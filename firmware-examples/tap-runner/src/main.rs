//! The firmware's network path on a PC: embassy-net on a TAP device, the
//! `authgate_device::embassy` transport the Pico W and ESP32-C3 images use, and the
//! same event handling (print the code, persist tokens, refresh, resume after a
//! "reboot"). Only the Wi-Fi driver and the flash are swapped for a TAP device and a
//! file.
//!
//! ```text
//! authgate-tap-runner --tap tap0 --server http://authgate.test:8080 \
//!     --client-id authgate-cli --state state.bin [--ca ca.der] [--new-key]
//! ```
//!
//! The address comes by DHCP and the server's name is resolved through the DNS
//! server DHCP names, as on a board; `--address IP/PREFIX` (with `--gateway IP` and
//! `--dns IP`) sets them statically instead, for debugging. With feature `tls`,
//! `https://` servers are reached through embedded-tls with the CA in `--ca` (DER)
//! pinned, as the boards do.
//!
//! DPoP as on the boards: the state file is the boards' flash record (the DPoP key
//! and the tokens, `authgate_device::DeviceRecord`); a key is made from the OS RNG
//! on the first run and saved before it signs anything. Prints `dpop_jkt=…` (the
//! key's RFC 7638 thumbprint).
//!
//! Prints `user_code=…`, `verification_uri=…`, `verification_uri_complete=…`,
//! `authorized token_tail=…` and `refreshed token_tail=…` lines for a test to read
//! (the tail is the end of the token's signed part, so two tokens differ there).
//! After each of those it asks tokeninfo about the token with the bare bearer token
//! and with a DPoP proof, and prints `tokeninfo bearer -> STATUS` and `tokeninfo
//! dpop -> STATUS BODY`. After `Authorized` it asks for a refresh at once; it exits 0
//! after the first `Refreshed`, so a second run with the same `--state` file exercises
//! the resume path (saved tokens, expiry forgotten, immediate refresh).
//!
//! `--new-key` plays a thief who copied the tokens but not the key: it signs with a
//! new key, never writes the state file, and exits 4 once the server refuses the
//! tokens (`tokens discarded`). Exits 1 if the flow ends otherwise or a binding check
//! fails, 2 on bad arguments or setup, 3 on `--timeout`.

mod lossy;
mod resource;
mod state;
mod tls;

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::exit;

use authgate_device::embassy::reqwless::client::HttpClient;
use authgate_device::embassy::{Step, Transport, now};
use authgate_device::{Config, DeviceFlow, DpopConfig, Event, QR_BUFFER_LEN, Qr, TextStyle};
use embassy_executor::Spawner;
use embassy_net::dns::DnsSocket;
use embassy_net::tcp::client::{TcpClient, TcpClientState};
use embassy_net::{Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use embassy_time::{Duration, with_timeout};
use static_cell::StaticCell;

use resource::Tcp;
use tls::Tls;

struct Args {
    tap: String,
    /// `None`: DHCP.
    address: Option<Ipv4Cidr>,
    gateway: Option<Ipv4Addr>,
    dns: Option<Ipv4Addr>,
    server: String,
    client_id: String,
    state: PathBuf,
    timeout: Duration,
    ca: Option<PathBuf>,
    new_key: bool,
    /// `--drop-response`: the 200 answers to cut off (see `lossy`).
    drop_responses: Vec<u32>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut tap, mut address, mut gateway, mut server) = (None, None, None, None);
    let (mut client_id, mut state, mut timeout) = ("authgate-cli".to_owned(), None, 120);
    let (mut dns, mut ca, mut new_key) = (None, None, false);
    let mut drop_responses = Vec::new();
    while let Some(flag) = it.next() {
        if flag == "--new-key" {
            new_key = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--tap" => tap = Some(value),
            "--address" => {
                let (ip, prefix) = value.split_once('/').ok_or("--address wants IP/PREFIX")?;
                let ip: Ipv4Addr = ip.parse().map_err(|e| format!("--address: {e}"))?;
                let prefix: u8 = prefix
                    .parse()
                    .map_err(|e| format!("--address prefix: {e}"))?;
                address = Some(Ipv4Cidr::new(ip, prefix));
            }
            "--gateway" => gateway = Some(value.parse().map_err(|e| format!("--gateway: {e}"))?),
            "--dns" => dns = Some(value.parse().map_err(|e| format!("--dns: {e}"))?),
            "--ca" if cfg!(feature = "tls") => ca = Some(PathBuf::from(value)),
            "--ca" => return Err("--ca needs a build with feature tls".into()),
            "--server" => server = Some(value),
            "--client-id" => client_id = value,
            "--state" => state = Some(PathBuf::from(value)),
            "--timeout" => timeout = value.parse().map_err(|e| format!("--timeout: {e}"))?,
            "--drop-response" => drop_responses = lossy::parse(&value)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let server: String = server.ok_or("--server is required")?;
    if server.starts_with("https://") && ca.is_none() {
        return Err("an https:// server needs --ca (the CA to pin)".into());
    }
    Ok(Args {
        tap: tap.ok_or("--tap is required")?,
        address,
        gateway,
        dns,
        server,
        client_id,
        state: state.ok_or("--state is required")?,
        timeout: Duration::from_secs(timeout),
        ca,
        new_key,
        drop_responses,
    })
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("tap-runner: {e}");
        exit(2)
    });
    let device = TunTapDevice::new(&args.tap).unwrap_or_else(|e| {
        eprintln!("tap-runner: opening {}: {e}", args.tap);
        exit(2)
    });
    let config = match args.address {
        Some(address) => embassy_net::Config::ipv4_static(StaticConfigV4 {
            address,
            gateway: args.gateway,
            dns_servers: args.dns.into_iter().collect(),
        }),
        None => embassy_net::Config::dhcpv4(Default::default()),
    };
    let seed = u64::from_ne_bytes(state::random());
    static RESOURCES: StaticCell<StackResources<4>> = StaticCell::new();
    let (stack, runner) =
        embassy_net::new(device, config, RESOURCES.init(StackResources::new()), seed);
    spawner.spawn(net_task(runner).unwrap());
    if with_timeout(args.timeout, stack.wait_config_up())
        .await
        .is_err()
    {
        eprintln!("tap-runner: no address within {} s", args.timeout.as_secs());
        exit(3)
    }
    if let Some(cfg) = stack.config_v4() {
        let how = if args.address.is_some() {
            "static"
        } else {
            "dhcp"
        };
        let dns: Vec<_> = cfg.dns_servers.iter().map(ToString::to_string).collect();
        println!(
            "tap-runner: {} up as {} ({how}), dns [{}]",
            args.tap,
            cfg.address,
            dns.join(" ")
        );
    }

    let code = match with_timeout(args.timeout, run(stack, &args)).await {
        Ok(code) => code,
        Err(_) => {
            eprintln!("tap-runner: no result within {} s", args.timeout.as_secs());
            3
        }
    };
    exit(code)
}

/// The firmware's loop, with a file for flash. Returns the exit code.
async fn run(stack: embassy_net::Stack<'static>, args: &Args) -> i32 {
    let saved = state::load(&args.state);
    let key = if args.new_key {
        println!(
            "signing with a new key; {} stays untouched",
            args.state.display()
        );
        authgate_device::DpopKey::from_seed(state::random())
    } else {
        match state::dpop_key(&args.state, &saved) {
            Ok(key) => key,
            Err(e) => {
                eprintln!("tap-runner: saving the DPoP key: {e}");
                return 2;
            }
        }
    };
    println!("dpop_jkt={}", key.thumbprint());
    let mut tls = match &args.ca {
        #[cfg(feature = "tls")]
        Some(path) => match std::fs::read(path) {
            Ok(der) => Some(Tls::new(der)),
            Err(e) => {
                eprintln!("tap-runner: --ca {}: {e}", path.display());
                return 2;
            }
        },
        _ => None,
    };
    let base = Config::new(&args.client_id);
    let server = args.server.trim_end_matches('/');
    let authorization_url = format!("{server}{}", base.device_authorization_path);
    let token_url = format!("{server}{}", base.token_path);
    let config = Config {
        dpop: Some(DpopConfig {
            key: &key,
            jti_seed: state::random(),
            device_authorization_url: &authorization_url,
            token_url: &token_url,
        }),
        ..base
    };
    let mut flow = match saved.tokens {
        Some(mut tokens) => {
            println!("resuming from {}", args.state.display());
            tokens.forget_expiry();
            DeviceFlow::resume(config, tokens, now())
        }
        None => DeviceFlow::new(config, now()),
    };
    let tcp_state = TcpClientState::<1, 1024, 1024>::new();
    let tcp = lossy::Lossy::new(TcpClient::new(stack, &tcp_state), &args.drop_responses);
    let dns = DnsSocket::new(stack);
    let (mut form, mut rx) = ([0u8; authgate_device::REQUEST_BUFFER_LEN], [0u8; 4096]);
    loop {
        let (mut refresh_now, mut done, mut check) = (false, false, false);
        while let Some(event) = flow.poll_event() {
            match event {
                Event::ShowCode {
                    user_code,
                    verification_uri,
                    verification_uri_complete,
                    ..
                } => {
                    println!("user_code={user_code}\nverification_uri={verification_uri}");
                    if let Some(complete) = verification_uri_complete {
                        println!("verification_uri_complete={complete}");
                    }
                    let (mut out, mut temp) = ([0u8; QR_BUFFER_LEN], [0u8; QR_BUFFER_LEN]);
                    if let Ok(qr) = Qr::encode(
                        verification_uri_complete.unwrap_or(verification_uri),
                        &mut out,
                        &mut temp,
                    ) {
                        let mut text = String::new();
                        let _ = qr.render_text(&mut text, TextStyle::HalfBlocks, 2, true);
                        print!("{text}");
                    }
                }
                Event::Authorized(tokens) | Event::Refreshed(tokens) => {
                    let refreshed = matches!(event, Event::Refreshed(_));
                    // PASETO `v4.public.<payload+signature>[.<footer>]`: the footer (key id)
                    // is the same for every token, so show the end of the signed part.
                    let token = tokens.access_token();
                    let signed = token.split('.').nth(2).unwrap_or(token);
                    let tail = &signed[signed.len().saturating_sub(16)..];
                    let secs = tokens.remaining(now()).map_or(0, |d| d.as_secs());
                    println!(
                        "{} token_tail={tail} expires_in={secs}",
                        if refreshed { "refreshed" } else { "authorized" }
                    );
                    if !args.new_key
                        && let Err(e) = state::save(&args.state, Some(tokens), &key)
                    {
                        eprintln!("tap-runner: saving tokens: {e}");
                        return 1;
                    }
                    (refresh_now, done, check) = (!refreshed, refreshed, true);
                }
                Event::TokensDiscarded | Event::LoggedOut { .. } => {
                    println!("tokens discarded");
                    if args.new_key {
                        return 4;
                    }
                    // Signed out: the tokens go, the key stays.
                    if let Err(e) = state::save(&args.state, None, &key) {
                        eprintln!("tap-runner: saving the signed-out record: {e}");
                    }
                }
                other => println!("event {other:?}"),
            }
        }
        if check {
            let mut http = http_client(&tcp, &dns, &mut tls);
            if !resource::check_binding(&mut http, &args.server, &mut flow, &mut rx).await {
                eprintln!("tap-runner: the token is not bound as it should be");
                return 1;
            }
        }
        let _ = std::io::stdout().flush();
        if done {
            return 0;
        }
        if refresh_now && let Err(e) = flow.refresh(now()) {
            eprintln!("tap-runner: refresh refused: {e:?}");
            return 1;
        }
        let step = {
            // Built per request, as on the boards: each TLS connection gets a new seed.
            let mut transport = transport(&tcp, &dns, &mut tls, server, &mut form, &mut rx);
            transport.step(&mut flow).await
        };
        match step {
            Ok(Step::Idle) => {
                eprintln!("tap-runner: flow ended: {:?}", flow.outcome());
                return 1;
            }
            Ok(Step::NoAnswer { kind, error }) => {
                eprintln!("tap-runner: {kind:?}: no answer ({error:?})")
            }
            Ok(Step::Answered {
                kind,
                status,
                error,
            }) => println!("{kind:?} -> {status} {error:?}"),
            Ok(_) => {}
            Err(e) => {
                eprintln!("tap-runner: {e:?}");
                return 1;
            }
        }
    }
}

/// The boards' transport: plain HTTP, or HTTPS with the pinned CA and a fresh seed.
fn transport<'a>(
    tcp: &'a Tcp<'a>,
    dns: &'a DnsSocket<'a>,
    tls: &'a mut Option<Tls>,
    server: &'a str,
    form: &'a mut [u8],
    rx: &'a mut [u8],
) -> Transport<'a, Tcp<'a>, DnsSocket<'a>> {
    match tls {
        #[cfg(feature = "tls")]
        Some(tls) => Transport::new_with_tls(tcp, dns, tls.config(), server, form, rx),
        _ => Transport::new(tcp, dns, server, form, rx),
    }
}

/// A reqwless client for a resource request, set up like the transport's.
fn http_client<'a>(
    tcp: &'a Tcp<'a>,
    dns: &'a DnsSocket<'a>,
    tls: &'a mut Option<Tls>,
) -> HttpClient<'a, Tcp<'a>, DnsSocket<'a>> {
    match tls {
        #[cfg(feature = "tls")]
        Some(tls) => HttpClient::new_with_tls(tcp, dns, tls.config()),
        _ => HttpClient::new(tcp, dns),
    }
}
