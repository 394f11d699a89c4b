//! Knowledge-base import files (`jiesu kb import`, `POST /api/kb/import`): the first byte
//! picks JSONL, CSV or XLSX, the rest is the file; every entry is read and checked against an
//! organisation. Nothing may panic.
#![no_main]

use jiesu::app::RefData;
use jiesu_core::org::OrgTree;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let format = ["jsonl", "csv", "xlsx"][usize::from(pick) % 3];
    let org = OrgTree::new(Vec::new());
    let _ = jiesu::kbfile::parse(file, format, &org, &RefData::default());
});
