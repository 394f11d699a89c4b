//! Open311 GeoReport v2 form posts (`POST /open311/v2/requests`): the form read into an order
//! request and checked by the rules of every channel. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = std::str::from_utf8(data)
        && let Some(r) = jiesu::api::open311::form_request(body)
    {
        let _ = r.parse();
    }
});
