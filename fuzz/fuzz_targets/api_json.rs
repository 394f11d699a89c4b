//! Request bodies of the JSON API: deserialised as the server does (unknown fields refused)
//! and, where the server goes on to check them, checked (`parse`). Nothing may panic.
#![no_main]

use jiesu::api::dto::{
    AmendRequest, CallbackRequest, CloseRequest, CreateOrderRequest, DispatchRequest,
    ExtensionRequest, MergeRequest, ReplyRequest, SuperviseRequest,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<CreateOrderRequest>(data) {
        let _ = r.parse();
    }
    if let Ok(r) = serde_json::from_slice::<AmendRequest>(data) {
        let _ = r.parse();
    }
    let _ = serde_json::from_slice::<DispatchRequest>(data);
    let _ = serde_json::from_slice::<ReplyRequest>(data);
    let _ = serde_json::from_slice::<CallbackRequest>(data);
    let _ = serde_json::from_slice::<CloseRequest>(data);
    let _ = serde_json::from_slice::<MergeRequest>(data);
    let _ = serde_json::from_slice::<SuperviseRequest>(data);
    let _ = serde_json::from_slice::<ExtensionRequest>(data);
});
