//! The few browser facilities the client uses: global `fetch`, timers, the clock,
//! randomness and console warnings. Bound to the global scope so the client works in
//! pages and workers.

use std::time::Duration;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    pub fn fetch_with_request(request: &web_sys::Request) -> js_sys::Promise;

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);

    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;

    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(message: &str);
}

/// Writes a warning to the console (the typed API's reports).
#[cfg(feature = "typed")]
pub fn warn(message: &str) {
    console_warn(message);
}

thread_local! {
    /// The clock while [`at_one_time`] runs.
    static FROZEN: std::cell::Cell<Option<Duration>> = const { std::cell::Cell::new(None) };
}

/// Time since the page loaded, the clock fed to the protocol state machines.
pub fn now() -> Duration {
    FROZEN
        .get()
        .unwrap_or_else(|| Duration::from_secs_f64(performance_now().max(0.0) / 1000.0))
}

/// Runs `f` with the clock read once: for events that happened together.
pub fn at_one_time<R>(f: impl FnOnce() -> R) -> R {
    let before = FROZEN.replace(Some(now()));
    let result = f();
    FROZEN.set(before);
    result
}

/// A uniform random number in `[0, 1)`.
pub fn random() -> f64 {
    js_sys::Math::random()
}

/// A pending `setTimeout`, cleared when dropped.
pub struct Timer {
    id: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Timer {
    /// Calls `f` once after `delay`.
    pub fn once(delay: Duration, f: impl FnOnce() + 'static) -> Timer {
        let mut f = Some(f);
        let callback = Closure::<dyn FnMut()>::new(move || {
            if let Some(f) = f.take() {
                f();
            }
        });
        let ms = delay.as_millis().min(i32::MAX as u128) as i32;
        let id = set_timeout(callback.as_ref().unchecked_ref(), ms);
        Timer {
            id,
            _callback: callback,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}
