//! The firmware's network path on a PC: embassy-net on a TAP device, the
//! `authgate_device::embassy` transport the Pico W and ESP32-C3 images use, and the
//! same event handling (print the code, persist tokens, refresh, resume after a
//! "reboot"). Only the Wi-Fi driver and the flash are swapped for a TAP device and a
//! file.
//!
//! ```text
//! authgate-tap-runner --tap tap0 --address 192.168.69.2/24 \
//!     --server http://192.168.69.1:8080 --client-id authgate-cli --state tokens.bin
//! ```
//!
//! Prints `user_code=…`, `verification_uri=…`, `verification_uri_complete=…`,
//! `authorized token_tail=…` and `refreshed token_tail=…` lines for a test to read
//! (the tail is the end of the token's signed part, so two tokens differ there).
//! After `Authorized` it asks for a refresh at once; it exits 0 after the first
//! `Refreshed`, so a second run with the same `--state` file exercises the resume path
//! (saved tokens, expiry forgotten, immediate refresh). Exits 1 if the flow ends
//! otherwise, 2 on bad arguments or setup, 3 on `--timeout`.

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::exit;

use authgate_device::embassy::{Step, Transport, now};
use authgate_device::{
    Config, DeviceFlow, Event, QR_BUFFER_LEN, Qr, TOKENS_MAX_BYTES, TextStyle, Tokens,
};
use embassy_executor::Spawner;
use embassy_net::dns::DnsSocket;
use embassy_net::tcp::client::{TcpClient, TcpClientState};
use embassy_net::{Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use embassy_time::{Duration, with_timeout};
use static_cell::StaticCell;

mod lossy;

struct Args {
    tap: String,
    address: Ipv4Cidr,
    gateway: Option<Ipv4Addr>,
    server: String,
    client_id: String,
    state: PathBuf,
    timeout: Duration,
    /// `--drop-response`: the 200 answers to cut off (see `lossy`).
    drop_responses: Vec<u32>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut tap, mut address, mut gateway, mut server) = (None, None, None, None);
    let (mut client_id, mut state, mut timeout) = ("authgate-cli".to_owned(), None, 120);
    let mut drop_responses = Vec::new();
    while let Some(flag) = it.next() {
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
            "--server" => server = Some(value),
            "--client-id" => client_id = value,
            "--state" => state = Some(PathBuf::from(value)),
            "--timeout" => timeout = value.parse().map_err(|e| format!("--timeout: {e}"))?,
            "--drop-response" => drop_responses = lossy::parse(&value)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        tap: tap.ok_or("--tap is required")?,
        address: address.ok_or("--address is required")?,
        gateway,
        server: server.ok_or("--server is required")?,
        client_id,
        state: state.ok_or("--state is required")?,
        timeout: Duration::from_secs(timeout),
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
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: args.address,
        gateway: args.gateway,
        dns_servers: Default::default(),
    });
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    static RESOURCES: StaticCell<StackResources<4>> = StaticCell::new();
    let (stack, runner) =
        embassy_net::new(device, config, RESOURCES.init(StackResources::new()), seed);
    spawner.spawn(net_task(runner).unwrap());
    stack.wait_config_up().await;
    println!("tap-runner: {} up as {}", args.tap, args.address);

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
    let config = Config::new(&args.client_id);
    let mut flow = match std::fs::read(&args.state)
        .ok()
        .map(|b| Tokens::from_bytes(&b))
    {
        Some(Ok(mut tokens)) => {
            println!("resuming from {}", args.state.display());
            tokens.forget_expiry();
            DeviceFlow::resume(config, tokens, now())
        }
        Some(Err(e)) => {
            eprintln!(
                "tap-runner: {} unreadable ({e}); ignoring it",
                args.state.display()
            );
            DeviceFlow::new(config, now())
        }
        None => DeviceFlow::new(config, now()),
    };
    let tcp_state = TcpClientState::<1, 1024, 1024>::new();
    let tcp = lossy::Lossy::new(TcpClient::new(stack, &tcp_state), &args.drop_responses);
    let dns = DnsSocket::new(stack);
    let (mut form, mut rx) = ([0u8; authgate_device::REQUEST_BUFFER_LEN], [0u8; 4096]);
    let mut transport = Transport::new(&tcp, &dns, &args.server, &mut form, &mut rx);
    let mut record = [0u8; TOKENS_MAX_BYTES];
    loop {
        let (mut refresh_now, mut done) = (false, false);
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
                    match tokens.to_bytes(&mut record) {
                        Ok(bytes) => {
                            if let Err(e) = std::fs::write(&args.state, bytes) {
                                eprintln!("tap-runner: saving tokens: {e}");
                                return 1;
                            }
                        }
                        Err(e) => eprintln!("tap-runner: encoding tokens: {e}"),
                    }
                    (refresh_now, done) = (!refreshed, refreshed);
                }
                Event::TokensDiscarded | Event::LoggedOut { .. } => {
                    println!("tokens discarded");
                    let _ = std::fs::remove_file(&args.state);
                }
                other => println!("event {other:?}"),
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
        match transport.step(&mut flow).await {
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
