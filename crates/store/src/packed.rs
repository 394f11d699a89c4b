//! Order states as SQLite stores them: zstd frames packed with a dictionary trained on order
//! states. An order's JSON is about 4 KB, most of it the same keys, statuses and deadline
//! rules in every order; with the dictionary it packs to about a quarter, so that several rows
//! share a 4 KiB page instead of one row (or one and an overflow page) each, and each of an
//! order's steps rewrites a quarter of the bytes (see docs/design.md, "Order states packed").
//!
//! A stored state is either the JSON text — on PostgreSQL, whose TOAST compresses large values
//! itself, and on SQLite in rows written before packing (they are read as they are, and
//! packed at their next change) — or a zstd frame naming its dictionary. The two cannot be
//! mistaken for one another: a frame starts with the bytes `28 B5 2F FD`, which no UTF-8 text
//! does (`B5` continues a character that `28` does not start).
//!
//! The dictionaries are part of the stored format: one is never changed or removed once
//! shipped. A better one goes into a new file at the end of [`DICTIONARIES`], which packs
//! from then on, and the older ones stay to read what they packed.

use crate::{Result, StoreError, col};
use sea_orm::{DbBackend, Value};
use std::cell::RefCell;
use std::sync::LazyLock;
use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

/// Every dictionary ever shipped, oldest first; the last one packs. `jiesu-bench state-codec
/// --train FILE` trains a new one on a data directory's orders.
const DICTIONARIES: &[&[u8]] = &[include_bytes!("../dict/order-state-1.zdict")];

/// zstd's default level: within 10% of level 19's size on order states, at ~20 µs a state.
const LEVEL: i32 = 3;

/// The first bytes of every zstd frame.
const FRAME_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// The largest state unpacked: far above any real order (its content is at most 10,000
/// characters), and a bound on what a damaged frame could make us allocate.
const MAX_STATE_BYTES: usize = 16 << 20;

struct Dictionary {
    id: u32,
    decoder: DecoderDictionary<'static>,
}

static DECODERS: LazyLock<Vec<Dictionary>> = LazyLock::new(|| {
    DICTIONARIES
        .iter()
        .map(|d| Dictionary {
            id: zstd::zstd_safe::get_dict_id_from_dict(d).map_or(0, |id| id.get()),
            decoder: DecoderDictionary::copy(d),
        })
        .collect()
});

static ENCODER: LazyLock<EncoderDictionary<'static>> = LazyLock::new(|| {
    EncoderDictionary::copy(DICTIONARIES.last().copied().unwrap_or_default(), LEVEL)
});

thread_local! {
    // A context of each kind, kept by each thread that packs or unpacks: making one allocates
    // and clears its working memory (over 100 KiB), several times the work of a state.
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

fn failed(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(format!("order state {what}: {e}"))
}

/// Packs an order's (sealed) JSON.
pub fn pack(json: &str) -> Result<Vec<u8>> {
    COMPRESSOR.with_borrow_mut(|c| {
        let c = match c {
            Some(c) => c,
            None => c.insert(
                Compressor::with_prepared_dictionary(&ENCODER)
                    .map_err(|e| failed("compressor", e))?,
            ),
        };
        c.compress(json.as_bytes())
            .map_err(|e| failed("not packed", e))
    })
}

/// True when `stored` is a packed state rather than JSON text.
pub fn is_packed(stored: &[u8]) -> bool {
    stored.starts_with(&FRAME_MAGIC)
}

/// An order's JSON from its stored form: unpacked if packed, else the text itself.
pub fn unpack(stored: Vec<u8>) -> Result<String> {
    if !is_packed(&stored) {
        return String::from_utf8(stored).map_err(|e| failed("is not text", e));
    }
    let id = zstd::zstd_safe::get_dict_id_from_frame(&stored).map_or(0, |id| id.get());
    let dict = DECODERS
        .iter()
        .find(|d| d.id == id)
        .ok_or_else(|| failed("unpacking", format!("unknown dictionary {id}")))?;
    let json = DECOMPRESSOR
        .with_borrow_mut(|d| {
            let d = match d {
                Some(d) => d,
                None => d.insert(Decompressor::new()?),
            };
            d.set_prepared_dictionary(&dict.decoder)?;
            d.decompress(&stored, MAX_STATE_BYTES)
        })
        .map_err(|e| failed("unpacking", e))?;
    String::from_utf8(json).map_err(|e| failed("unpacked is not text", e))
}

/// The value to store for an order's (sealed) JSON: packed on SQLite, the text on
/// PostgreSQL.
pub(crate) fn stored(backend: DbBackend, json: String) -> Result<Value> {
    Ok(match backend {
        DbBackend::Sqlite => pack(&json)?.into(),
        _ => json.into(),
    })
}

/// The (sealed) JSON of the `state` column of an `orders` row.
pub(crate) fn state_of(r: &impl crate::lite::Cols, backend: DbBackend) -> Result<String> {
    match backend {
        // Read as bytes: SQLite hands over a text value's bytes as well as a blob's.
        DbBackend::Sqlite => unpack(col::<Vec<u8>>(r, "state")?),
        _ => col(r, "state"),
    }
}

/// The text of a stored (sealed) order state that readers other than the order's own page
/// need: its content and address. Sealing replaces whole string values, so a content that
/// is nothing but a citizen's phone or ID number reads as its token.
#[derive(serde::Deserialize)]
pub(crate) struct StateText {
    content: Option<String>,
    location: Option<StateLocation>,
}

#[derive(serde::Deserialize)]
struct StateLocation {
    address: Option<String>,
}

impl StateText {
    /// The text of the `state` column of an `orders` row.
    pub(crate) fn of(r: &impl crate::lite::Cols, backend: DbBackend) -> Result<StateText> {
        serde_json::from_str(&state_of(r, backend)?).map_err(StoreError::corrupt)
    }

    pub(crate) fn content(self) -> String {
        self.content.unwrap_or_default()
    }

    pub(crate) fn into_parts(self) -> (String, String) {
        let address = self.location.and_then(|l| l.address).unwrap_or_default();
        (self.content.unwrap_or_default(), address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"{"number":"2026-12-05-000001","channel":"phone","request_type":"complaint","title":"小区楼下烧烤店油烟扰民","content":"小区楼下烧烤店油烟扰民，晚上十二点还在营业。","status":"handling","deadlines":{"reply":{"stage":"reply","limit":{"unit":"working_days","value":3},"rule":"一般诉求","reminders":[300,180,60]}},"version":3}"#;

    #[test]
    fn a_state_text_reads_missing_or_null_parts_as_empty() {
        let read = |json: &str| {
            serde_json::from_str::<StateText>(json)
                .unwrap()
                .into_parts()
        };
        let (content, address) = read(STATE);
        assert_eq!(content, "小区楼下烧烤店油烟扰民，晚上十二点还在营业。");
        assert_eq!(address, "");
        assert_eq!(
            read(r#"{"content":null,"location":{"address":"东风路 1 号"}}"#),
            (String::new(), "东风路 1 号".to_string())
        );
        assert_eq!(read(r#"{"location":{}}"#), (String::new(), String::new()));
        assert_eq!(read("{}"), (String::new(), String::new()));
        let content = serde_json::from_str::<StateText>(r#"{"content":"噪音"}"#).unwrap();
        assert_eq!(content.content(), "噪音");
    }

    #[test]
    fn a_state_packs_smaller_and_unpacks_to_the_same_text() {
        let packed = pack(STATE).unwrap();
        assert!(is_packed(&packed));
        assert!(packed.len() * 2 < STATE.len(), "{} bytes", packed.len());
        assert_eq!(unpack(packed).unwrap(), STATE);
        // Text stored before packing reads as it is.
        assert_eq!(unpack(STATE.as_bytes().to_vec()).unwrap(), STATE);
    }

    /// The shipped dictionary is part of the stored format: a frame packed with it when it
    /// was made must unpack for ever. Replacing the file instead of adding one fails here.
    #[test]
    fn what_the_first_dictionary_packed_still_unpacks() {
        let fixture = include_bytes!("../dict/order-state-1.sample.zst").to_vec();
        assert_eq!(
            zstd::zstd_safe::get_dict_id_from_frame(&fixture).map(|i| i.get()),
            DECODERS.first().map(|d| d.id)
        );
        assert_eq!(unpack(fixture).unwrap(), STATE);
    }

    #[test]
    fn a_damaged_or_unknown_frame_is_an_error_not_a_panic() {
        let mut packed = pack(STATE).unwrap();
        let end = packed.len() - 1;
        packed.truncate(end);
        assert!(unpack(packed).is_err());
        // A frame packed with another dictionary.
        let other = zstd::bulk::Compressor::with_dictionary(3, b"another dictionary's bytes")
            .and_then(|mut c| c.compress(STATE.as_bytes()))
            .unwrap();
        assert!(unpack(other).is_err());
        assert!(unpack(vec![0xff, 0xfe]).is_err());
    }
}
