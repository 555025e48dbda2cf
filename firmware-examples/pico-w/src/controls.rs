//! The BOOTSEL button and the CYW43 LED: pins only. What a press does and what the
//! LED shows are `authgate_device`'s [`SignOutButton`] and [`Indicator`] rules.
//!
//! - BOOTSEL (the white button) signs out: the main loop revokes the refresh token,
//!   forgets the tokens in flash and starts a new device flow. While a code is shown
//!   it asks for a fresh one. Holding it while plugging in still enters the USB
//!   bootloader, as always. On the Pico 2 W (cfg `rp2350`) the button is a push
//!   button from GP22 (pin 29) to ground (pin 28): embassy-rp 0.10 reads BOOTSEL on
//!   the RP2040 only.
//! - The LED (the CYW43's GPIO 0, the Pico W's only LED) shows the state: a short
//!   flash every 2 s while joining Wi-Fi, 2 Hz while talking to the server, a slow
//!   blink while a code waits for approval, steady when signed in, a fast blink on
//!   an error.

use authgate_device::embassy::now;
use authgate_device::{ButtonAction, Debouncer, DeviceFlow, Indicator, SignOutButton};
#[cfg(not(rp2350))]
use embassy_rp::Peri;
#[cfg(not(rp2350))]
use embassy_rp::bootsel::is_bootsel_pressed;
#[cfg(rp2350)]
use embassy_rp::gpio::Input;
#[cfg(not(rp2350))]
use embassy_rp::peripherals::BOOTSEL;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::mutex::Mutex;
use embassy_time::Timer;
use portable_atomic::{AtomicBool, AtomicU8, Ordering};

/// The CYW43 control, shared by the Wi-Fi code in `main` and the LED task.
pub type SharedControl = Mutex<CriticalSectionRawMutex, cyw43::Control<'static>>;

/// Set by the button task on each debounced press; taken by the main loop.
static PRESSED: AtomicBool = AtomicBool::new(false);
/// The [`Indicator`] the LED task shows ([`Indicator::to_u8`]).
static SHOWN: AtomicU8 = AtomicU8::new(Indicator::JoiningWifi.to_u8());

/// Samples BOOTSEL every 10 ms. Each read floats the flash chip-select for a few
/// microseconds with interrupts off (embassy-rp runs it from RAM); flash writes in
/// `main` are blocking, so none is in progress while this task runs.
#[cfg(not(rp2350))]
#[embassy_executor::task]
pub async fn button_task(mut bootsel: Peri<'static, BOOTSEL>) -> ! {
    let mut debouncer = Debouncer::new(now());
    loop {
        Timer::after_millis(10).await;
        if debouncer.sample(now(), is_bootsel_pressed(bootsel.reborrow())) {
            PRESSED.store(true, Ordering::Relaxed);
        }
    }
}

/// Samples the Pico 2 W's button (pulled up, pressed reads low) every 10 ms.
#[cfg(rp2350)]
#[embassy_executor::task]
pub async fn button_task(button: Input<'static>) -> ! {
    let mut debouncer = Debouncer::new(now());
    loop {
        Timer::after_millis(10).await;
        if debouncer.sample(now(), button.is_low()) {
            PRESSED.store(true, Ordering::Relaxed);
        }
    }
}

/// Blinks the LED in the pattern of the state last [`show`]n (checked every 50 ms;
/// the CYW43 is only told when the level changes).
#[embassy_executor::task]
pub async fn led_task(control: &'static SharedControl) -> ! {
    let mut lit = None;
    loop {
        let want = Indicator::from_u8(SHOWN.load(Ordering::Relaxed)).is_lit(now());
        if lit != Some(want) {
            control.lock().await.gpio_set(0, want).await;
            lit = Some(want);
        }
        Timer::after_millis(50).await;
    }
}

/// Sets what the LED shows.
pub fn show(indicator: Indicator) {
    SHOWN.store(indicator.to_u8(), Ordering::Relaxed);
}

/// Whether the button was pressed since the last call.
pub fn take_press() -> bool {
    PRESSED.swap(false, Ordering::Relaxed)
}

/// One turn of the main loop's button and LED duty: hands a press to `button`, lets
/// it act on `flow` (after the loop drained the flow's events), and shows the state.
/// Returns what the press did, for the console.
pub fn tick(
    button: &mut SignOutButton,
    flow: &mut DeviceFlow<'_>,
    link_up: bool,
) -> Option<ButtonAction> {
    if take_press() {
        button.press();
    }
    let action = button.apply(flow, now());
    show(Indicator::for_flow(flow, link_up));
    action
}
