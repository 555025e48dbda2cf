//! The BOOT button and a status LED: pins only. What a press does and what the LED
//! shows are `authgate_device`'s [`SignOutButton`] and [`Indicator`] rules.
//!
//! - BOOT (GPIO9, to ground when pressed, pulled up) signs out: the main loop revokes
//!   the refresh token, forgets the tokens in flash and starts a new device flow.
//!   While a code is shown it asks for a fresh one. Holding it at reset still enters
//!   the ROM download mode, as always.
//! - The LED on GPIO [`LED_GPIO`] (build setting `LED_GPIO`, default 8; `LED_ACTIVE_LOW`
//!   default 1, as on the common "SuperMini" boards; an addressable WS2812 such as the
//!   DevKitM-1's is not driven) shows the state: a short flash every 2 s while joining
//!   Wi-Fi, 2 Hz while talking to the server, a slow blink while a code waits for
//!   approval, steady when signed in, a fast blink on an error.

use authgate_device::embassy::now;
use authgate_device::{ButtonAction, Debouncer, DeviceFlow, Indicator, SignOutButton};
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use embassy_time::Timer;
use esp_hal::gpio::{Input, Level, Output};

/// The LED's GPIO number (`LED_GPIO` at build time, default 8).
pub const LED_GPIO: u8 = match option_env!("LED_GPIO") {
    Some(n) => parse_gpio(n),
    None => 8,
};

/// Whether the LED lights when its pin is low (`LED_ACTIVE_LOW`, default 1).
pub const LED_ACTIVE_LOW: bool = match option_env!("LED_ACTIVE_LOW") {
    Some(v) => !matches!(v.as_bytes(), b"0" | b"false"),
    None => true,
};

/// The free GPIOs of an ESP32-C3 module that are not the button (9), the OLED's I²C
/// (4, 5), the SPI flash (12–17), USB (18, 19) or the console UART (20, 21).
const _: () = assert!(
    matches!(LED_GPIO, 0 | 1 | 2 | 3 | 6 | 7 | 8 | 10),
    "LED_GPIO must be one of 0, 1, 2, 3, 6, 7, 8, 10"
);

/// Decimal GPIO number at compile time; anything else stops the build.
const fn parse_gpio(s: &str) -> u8 {
    let b = s.as_bytes();
    assert!(!b.is_empty() && b.len() <= 2, "LED_GPIO: a GPIO number");
    let mut n = 0u8;
    let mut i = 0;
    while i < b.len() {
        assert!(b[i].is_ascii_digit(), "LED_GPIO: a GPIO number");
        n = n * 10 + (b[i] - b'0');
        i += 1;
    }
    n
}

/// Set by the button task on each debounced press; taken by the main loop.
static PRESSED: AtomicBool = AtomicBool::new(false);
/// The [`Indicator`] the LED task shows ([`Indicator::to_u8`]).
static SHOWN: AtomicU8 = AtomicU8::new(Indicator::JoiningWifi.to_u8());

/// Samples BOOT every 10 ms (pressed reads low).
#[embassy_executor::task]
pub async fn button_task(boot: Input<'static>) -> ! {
    let mut debouncer = Debouncer::new(now());
    loop {
        Timer::after_millis(10).await;
        if debouncer.sample(now(), boot.is_low()) {
            PRESSED.store(true, Ordering::Relaxed);
        }
    }
}

/// Blinks the LED in the pattern of the state last [`show`]n (checked every 50 ms).
#[embassy_executor::task]
pub async fn led_task(mut led: Output<'static>) -> ! {
    loop {
        let lit = Indicator::from_u8(SHOWN.load(Ordering::Relaxed)).is_lit(now());
        led.set_level(Level::from(lit != LED_ACTIVE_LOW));
        Timer::after_millis(50).await;
    }
}

/// The LED pin's level for "off", to create the `Output` with.
pub const LED_OFF: Level = if LED_ACTIVE_LOW {
    Level::High
} else {
    Level::Low
};

/// Sets what the LED shows.
pub fn show(indicator: Indicator) {
    SHOWN.store(indicator.to_u8(), Ordering::Relaxed);
}

/// Whether the button was pressed since the last call. Load then store, as the
/// RV32IMC core has no atomic swap: both tasks run on the one executor and nothing
/// awaits in between, so no press slips through.
pub fn take_press() -> bool {
    let pressed = PRESSED.load(Ordering::Relaxed);
    if pressed {
        PRESSED.store(false, Ordering::Relaxed);
    }
    pressed
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
