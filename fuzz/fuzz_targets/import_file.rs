//! Order import files (`jiesu import`): the first byte picks JSONL, CSV or XLSX, the rest is
//! the file; every row is read into an order request and checked. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let format = ["jsonl", "csv", "xlsx"][usize::from(pick) % 3];
    if let Ok(rows) = jiesu::import::parse_rows(file, format) {
        for row in &rows {
            if let Ok(r) = jiesu::import::request_of(row) {
                let _ = r.parse();
            }
        }
    }
});
