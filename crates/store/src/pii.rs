//! Field-level encryption of citizens' phone numbers and ID numbers at rest.
//!
//! A value is sealed into a token `/pii1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>` with
//! AES-256-GCM. The nonce is an HMAC of the value (a synthetic IV), so one value under one key
//! always gives the same token: the token is its own lookup key (an index on the column finds
//! a caller's orders, a unique key on a recipient still holds), and what it tells a reader of
//! the database is only that two rows hold the same number.
//!
//! Inside JSON documents (an order's state, an event's payload) the values are replaced where
//! they stand as whole strings, and the token is written `"\/pii1:…"`. A JSON writer may escape
//! `/` as `\/` but serde_json never does, so no plaintext serde_json wrote ever contains `"\/`:
//! a token is found without ambiguity whatever a citizen typed, and the sealed text is still
//! valid JSON. Opening a document gives back exactly the text that was sealed, so the chain
//! hashes of events (computed over the plaintext) verify, and re-sealing under a new key
//! (rotation) does not touch them.
//!
//! Keys live in a key file (JSON, owner-only permissions) outside the database: a copy of the
//! database without it holds no phone or ID number. The last key seals; the others only open,
//! until `jiesu pii rotate` has re-sealed everything under the newest and `--retire` drops them.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// What every token starts with (in a column; inside JSON it is written `\/pii1:`).
pub const PREFIX: &str = "/pii1:";
/// How a token starts inside JSON text, opening quote included.
const JSON_PREFIX: &str = "\"\\/pii1:";
/// Bound into every ciphertext: a token is only ever opened as a Jiesu personal-data value.
const AAD: &[u8] = b"jiesu-pii-v1";

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("personal data is sealed with key “{0}”, which the key file does not hold")]
    UnknownKey(String),
    #[error("a sealed personal-data value does not open: {0}")]
    Broken(String),
    #[error("key file {path}: {message}")]
    KeyFile { path: String, message: String },
}

/// One key: the file's secret and what is derived from it.
struct Key {
    id: String,
    cipher: Aes256Gcm,
    nonce_key: [u8; 32],
    fingerprint: String,
}

impl Key {
    fn new(id: &str, secret: &[u8; 32]) -> Key {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = match HmacSha256::new_from_slice(secret) {
                Ok(m) => m,
                Err(_) => unreachable!("HMAC takes keys of any length"),
            };
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        let enc = derive(b"jiesu pii encryption v1");
        let cipher = match Aes256Gcm::new_from_slice(&enc) {
            Ok(c) => c,
            Err(_) => unreachable!("the derived key has 32 bytes"),
        };
        Key {
            id: id.to_string(),
            cipher,
            nonce_key: derive(b"jiesu pii nonce v1"),
            fingerprint: hex::encode(&derive(b"jiesu pii fingerprint v1")[..8]),
        }
    }

    fn seal(&self, value: &str) -> String {
        let mut mac = match HmacSha256::new_from_slice(&self.nonce_key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(value.as_bytes());
        let tag = mac.finalize().into_bytes();
        let Ok(nonce) = Nonce::try_from(&tag[..12]) else {
            unreachable!("an HMAC-SHA256 has more than 12 bytes")
        };
        let sealed = match self.cipher.encrypt(
            &nonce,
            Payload {
                msg: value.as_bytes(),
                aad: AAD,
            },
        ) {
            Ok(c) => c,
            Err(_) => unreachable!("AES-GCM encrypts any value shorter than 64 GiB"),
        };
        let mut raw = Vec::with_capacity(12 + sealed.len());
        raw.extend_from_slice(&tag[..12]);
        raw.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", self.id, URL_SAFE_NO_PAD.encode(raw))
    }

    fn open(&self, body: &str) -> Result<String, PiiError> {
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| PiiError::Broken(e.to_string()))?;
        if raw.len() < 12 + 16 {
            return Err(PiiError::Broken("too short".into()));
        }
        let (nonce, sealed) = raw.split_at(12);
        let plain = self
            .cipher
            .decrypt(
                &Nonce::try_from(nonce).map_err(|_| PiiError::Broken("no nonce".into()))?,
                Payload {
                    msg: sealed,
                    aad: AAD,
                },
            )
            .map_err(|_| PiiError::Broken(format!("key {} does not open it", self.id)))?;
        String::from_utf8(plain).map_err(|e| PiiError::Broken(e.to_string()))
    }
}

/// The keys one node holds: the last seals, all open.
#[derive(Default)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.ids())
            .finish()
    }
}

/// The key file's content.
#[derive(Serialize, Deserialize)]
struct KeyFile {
    /// Oldest first; the last one seals.
    keys: Vec<KeyEntry>,
}

#[derive(Serialize, Deserialize)]
struct KeyEntry {
    id: String,
    /// 32 random bytes, base64.
    secret: String,
    created_at: String,
}

impl Keyring {
    /// A keyring without keys: seals nothing, opens only plaintext (tools over data that was
    /// never sealed, tests of other things).
    pub fn none() -> Keyring {
        Keyring::default()
    }

    /// A keyring of one key from a secret (tests, benchmarks).
    pub fn of_secret(id: &str, secret: &[u8; 32]) -> Keyring {
        Keyring {
            keys: vec![Key::new(id, secret)],
        }
    }

    /// The key ids, oldest first.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    /// The id of the key that seals, if any.
    pub fn current_id(&self) -> Option<&str> {
        self.keys.last().map(|k| k.id.as_str())
    }

    /// `(id, fingerprint)` of every key: the fingerprint tells two keys of one id apart
    /// without showing them.
    pub fn fingerprints(&self) -> Vec<(String, String)> {
        self.keys
            .iter()
            .map(|k| (k.id.clone(), k.fingerprint.clone()))
            .collect()
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Keyring, PiiError> {
        let err = |message: String| PiiError::KeyFile {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let file: KeyFile =
            serde_json::from_str(&text).map_err(|e| err(format!("unreadable: {e}")))?;
        let mut keys = Vec::with_capacity(file.keys.len());
        for k in &file.keys {
            if k.id.is_empty() || !k.id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(err(format!("key id “{}” is not letters and digits", k.id)));
            }
            if keys.iter().any(|x: &Key| x.id == k.id) {
                return Err(err(format!("key id “{}” appears twice", k.id)));
            }
            let secret: [u8; 32] = base64::engine::general_purpose::STANDARD
                .decode(&k.secret)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| err(format!("key “{}” is not 32 bytes in base64", k.id)))?;
            keys.push(Key::new(&k.id, &secret));
        }
        if keys.is_empty() {
            return Err(err("holds no key".into()));
        }
        Ok(Keyring { keys })
    }

    /// Reads the key file, creating it with one new key where it does not exist yet.
    /// Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Keyring, bool), PiiError> {
        if path.exists() {
            return Ok((Self::load(path)?, false));
        }
        add_key(path)?;
        Ok((Self::load(path)?, true))
    }

    /// Seals one value under the newest key; without keys the value stays as it is.
    pub fn seal<'a>(&self, value: &'a str) -> Cow<'a, str> {
        match self.keys.last() {
            Some(k) if !value.is_empty() && !value.starts_with(PREFIX) => Cow::Owned(k.seal(value)),
            _ => Cow::Borrowed(value),
        }
    }

    /// Opens one value: a token gives its plaintext, anything else is plaintext already
    /// (written before encryption, or by a node without keys).
    pub fn open<'a>(&self, value: &'a str) -> Result<Cow<'a, str>, PiiError> {
        let Some(rest) = value.strip_prefix(PREFIX) else {
            return Ok(Cow::Borrowed(value));
        };
        let (id, body) = rest
            .split_once(':')
            .ok_or_else(|| PiiError::Broken("no key id".into()))?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| PiiError::UnknownKey(id.to_string()))?;
        key.open(body).map(Cow::Owned)
    }

    /// What a column holding `value` may contain: its token under every key, and the value
    /// itself (rows written before encryption).
    pub fn lookups(&self, value: &str) -> Vec<String> {
        let mut out: Vec<String> = self.keys.iter().rev().map(|k| k.seal(value)).collect();
        out.push(value.to_string());
        out
    }

    /// Seals `secrets` wherever one stands as a whole string in `json` (serde_json's output).
    pub fn seal_json(&self, json: String, secrets: &[&str]) -> String {
        if self.keys.is_empty() {
            return json;
        }
        let mut out = json;
        for s in secrets {
            if s.is_empty() || s.starts_with(PREFIX) {
                continue;
            }
            let Ok(literal) = serde_json::to_string(s) else {
                continue;
            };
            if !out.contains(&literal) {
                continue;
            }
            let sealed = self.seal(s);
            // `/` → `\/`: a spelling serde_json never writes (see the module's comment).
            let token = format!("\"\\{}\"", &sealed);
            out = out.replace(&literal, &token);
        }
        out
    }

    /// Opens every token in `json`, giving back the text that was sealed.
    pub fn open_json<'a>(&self, json: &'a str) -> Result<Cow<'a, str>, PiiError> {
        let Some(first) = json.find(JSON_PREFIX) else {
            return Ok(Cow::Borrowed(json));
        };
        let mut out = String::with_capacity(json.len());
        let mut rest = json;
        let mut at = first;
        loop {
            out.push_str(&rest[..at]);
            let token_start = at + 2; // after `"\`
            let len = rest[token_start..]
                .find('"')
                .ok_or_else(|| PiiError::Broken("unterminated token".into()))?;
            let token = &rest[token_start..token_start + len];
            let plain = self.open(token)?;
            let literal = serde_json::to_string(plain.as_ref())
                .map_err(|e| PiiError::Broken(e.to_string()))?;
            out.push_str(&literal);
            rest = &rest[token_start + len + 1..];
            match rest.find(JSON_PREFIX) {
                Some(next) => at = next,
                None => {
                    out.push_str(rest);
                    return Ok(Cow::Owned(out));
                }
            }
        }
    }

    /// The id of the key a token was sealed with.
    pub fn key_of(value: &str) -> Option<&str> {
        value
            .strip_prefix(PREFIX)?
            .split_once(':')
            .map(|(id, _)| id)
    }
}

/// A phone number standing alone in a column (a text message's recipient, a caller) is
/// sealed (one number, one token: unique keys on it still hold); anything else there (a
/// unit's address, a withheld caller) is not a citizen's number and stays as it is.
pub(crate) fn seal_number(ring: &Keyring, value: &str) -> String {
    if is_number(value) {
        ring.seal(value).into_owned()
    } else {
        value.to_string()
    }
}

fn is_number(value: &str) -> bool {
    !value.is_empty() && value.chars().all(|c| c.is_ascii_digit())
}

/// Columns that hold a citizen's number alone, sealed by [`seal_number`]: (table, column).
const NUMBER_COLUMNS: [(&str, &str); 3] = [
    ("outbound_messages", "recipient"),
    ("calls", "caller"),
    ("missed_calls", "caller"),
];

/// Appends a new key to the key file (creating it and its folder, owner-only), which then
/// seals. Returns its id.
pub fn add_key(path: &Path) -> Result<String, PiiError> {
    use rand::RngCore;
    let err = |message: String| PiiError::KeyFile {
        path: path.display().to_string(),
        message,
    };
    let mut file = if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        serde_json::from_str::<KeyFile>(&text).map_err(|e| err(format!("unreadable: {e}")))?
    } else {
        KeyFile { keys: Vec::new() }
    };
    let n = file
        .keys
        .iter()
        .filter_map(|k| k.id.strip_prefix('k')?.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let id = format!("k{n}");
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    file.keys.push(KeyEntry {
        id: id.clone(),
        secret: base64::engine::general_purpose::STANDARD.encode(secret),
        created_at: chrono::Utc::now().to_rfc3339(),
    });
    write_key_file(path, &file).map_err(|e| err(e.to_string()))?;
    Ok(id)
}

/// Removes keys from the key file (after `rotate` re-sealed everything they sealed).
pub fn remove_keys(path: &Path, ids: &[String]) -> Result<(), PiiError> {
    let err = |message: String| PiiError::KeyFile {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let mut file: KeyFile =
        serde_json::from_str(&text).map_err(|e| err(format!("unreadable: {e}")))?;
    file.keys.retain(|k| !ids.contains(&k.id));
    if file.keys.is_empty() {
        return Err(err("would hold no key".into()));
    }
    write_key_file(path, &file).map_err(|e| err(e.to_string()))
}

/// Writes the key file whole or not at all (a temporary file renamed over it), readable by
/// its owner only.
fn write_key_file(path: &Path, file: &KeyFile) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_string_pretty(file).map_err(std::io::Error::other)?;
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// A node's keys, re-read from the key file when it changes (another node or `jiesu pii
/// rotate` added a key): a token under a key this node does not know yet makes it look
/// again before failing.
#[derive(Debug)]
pub struct PiiKeys {
    path: Option<PathBuf>,
    ring: RwLock<Arc<Keyring>>,
}

impl PiiKeys {
    pub fn new(path: Option<PathBuf>, ring: Keyring) -> PiiKeys {
        PiiKeys {
            path,
            ring: RwLock::new(Arc::new(ring)),
        }
    }

    /// The key file's path, for messages.
    pub fn path_text(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "(none)".to_string(), |p| p.display().to_string())
    }

    /// No keys (see [`Keyring::none`]).
    pub fn none() -> PiiKeys {
        Self::new(None, Keyring::none())
    }

    pub fn ring(&self) -> Arc<Keyring> {
        match self.ring.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Reads the key file again; true when it now holds other keys.
    pub fn reload(&self) -> Result<bool, PiiError> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let fresh = Keyring::load(path)?;
        let changed = fresh.fingerprints() != self.ring().fingerprints();
        if changed {
            tracing::info!(keys = ?fresh.ids(), "personal-data keys reloaded");
            match self.ring.write() {
                Ok(mut g) => *g = Arc::new(fresh),
                Err(p) => *p.into_inner() = Arc::new(fresh),
            }
        }
        Ok(changed)
    }

    /// Runs `f` with the keys; where it meets a key it does not know, reads the key file
    /// again and tries once more.
    pub fn with<T>(&self, f: impl Fn(&Keyring) -> Result<T, PiiError>) -> Result<T, PiiError> {
        match f(&self.ring()) {
            Err(PiiError::UnknownKey(id)) => {
                if self.reload().unwrap_or(false) {
                    f(&self.ring())
                } else {
                    Err(PiiError::UnknownKey(id))
                }
            }
            r => r,
        }
    }

    /// Opens a JSON document (see [`Keyring::open_json`]).
    pub fn open_json(&self, json: &str) -> Result<String, PiiError> {
        self.with(|k| k.open_json(json).map(Cow::into_owned))
    }

    /// Opens one column value.
    pub fn open(&self, value: &str) -> Result<String, PiiError> {
        self.with(|k| k.open(value).map(Cow::into_owned))
    }
}

/// What one pass of [`Store::reseal_pii`] found and did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResealReport {
    pub orders: u64,
    /// Orders whose state or phone column was sealed anew.
    pub orders_resealed: u64,
    pub events_resealed: u64,
    /// Other sealed values (the numbers of text messages and of calls).
    pub values_resealed: u64,
    /// Orders that changed while the pass read them (their new version was sealed by the
    /// node that wrote it; a further pass looks at them again).
    pub changed_meanwhile: u64,
}

impl ResealReport {
    /// Nothing was left under another key or in plaintext.
    pub fn settled(&self) -> bool {
        self.orders_resealed == 0
            && self.events_resealed == 0
            && self.values_resealed == 0
            && self.changed_meanwhile == 0
    }
}

impl crate::Store {
    /// Checks this node's keys against the ones the database's personal data was sealed
    /// with (`pii_keys`), and records its own: a node given another key file (say, a new one
    /// made on its first start) would seal what the other nodes cannot open.
    pub async fn check_pii_keys(&self) -> crate::Result<()> {
        let ring = self.pii().ring();
        let rows = self
            .read
            .query_all_raw(self.stmt("SELECT key_id, fingerprint FROM pii_keys", vec![]))
            .await?;
        let mine = ring.fingerprints();
        let mut recorded = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = crate::col(r, "key_id")?;
            let fp: String = crate::col(r, "fingerprint")?;
            let problem = match mine.iter().find(|(i, _)| *i == id) {
                Some((_, f)) if *f == fp => {
                    recorded.push(id);
                    continue;
                }
                Some(_) => "holds another key under the id of the key",
                None => "lacks the key",
            };
            return Err(PiiError::KeyFile {
                path: self.pii().path_text(),
                message: format!(
                    "{problem} “{id}” this database's personal data is sealed with: give every node the same key file (pii_key_file)"
                ),
            }
            .into());
        }
        let now = chrono::Utc::now().timestamp_millis();
        let mut stmts = Vec::new();
        for (id, fp) in mine.into_iter().filter(|(id, _)| !recorded.contains(id)) {
            stmts.push(self.stmt(
                "INSERT INTO pii_keys (key_id, fingerprint, added_at) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING",
                vec![id.into(), fp.into(), now.into()],
            ));
        }
        if !stmts.is_empty() {
            self.write_all(stmts).await?;
        }
        Ok(())
    }

    /// Takes keys out of the database's record (they sealed nothing any more).
    pub async fn forget_pii_keys(&self, ids: &[String]) -> crate::Result<()> {
        let stmts = ids
            .iter()
            .map(|id| {
                self.stmt(
                    "DELETE FROM pii_keys WHERE key_id = $1",
                    vec![id.clone().into()],
                )
            })
            .collect();
        self.write_all(stmts).await
    }

    /// Orders by the key their personal data is sealed with ("" for orders holding a phone
    /// or ID number not sealed at all); an order under two keys counts for both.
    pub async fn pii_key_usage(
        &self,
        mut progress: impl FnMut(u64),
    ) -> crate::Result<std::collections::BTreeMap<String, u64>> {
        let mut usage = std::collections::BTreeMap::new();
        let mut seen = 0u64;
        for t in self.tenants().await? {
            let mut after = 0i64;
            loop {
                let rows = self
                    .read
                    .query_all_raw(self.stmt(
                        "SELECT id, state FROM orders WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT 1000",
                        vec![t.id.0.into(), after.into()],
                    ))
                    .await?;
                let Some(last) = rows.last() else { break };
                after = crate::col(last, "id")?;
                for r in &rows {
                    let state = crate::packed::state_of(r, self.backend)?;
                    // Each token starts after the `"\` of JSON_PREFIX.
                    let mut keys: std::collections::BTreeSet<&str> = state
                        .match_indices(JSON_PREFIX)
                        .filter_map(|(at, _)| Keyring::key_of(&state[at + 2..]))
                        .collect();
                    if keys.is_empty() {
                        let order: jiesu_core::order::Order =
                            serde_json::from_str(&state).map_err(crate::StoreError::corrupt)?;
                        if !crate::orders::pii_values(&order).is_empty() {
                            keys.insert("");
                        }
                    }
                    for k in keys {
                        *usage.entry(k.to_string()).or_insert(0) += 1;
                    }
                }
                seen += rows.len() as u64;
                progress(seen);
            }
        }
        Ok(usage)
    }

    /// Seals every order's personal data under the newest key: what an older key sealed, and
    /// what was stored before encryption. Runs beside a serving node (each order is rewritten
    /// only if its version is unchanged); event chains are untouched, they cover the plaintext.
    pub async fn reseal_pii(&self, mut progress: impl FnMut(u64)) -> crate::Result<ResealReport> {
        // Under the newest key of the key file, also when it was added just now.
        self.pii().reload()?;
        self.check_pii_keys().await?;
        let mut report = ResealReport::default();
        for t in self.tenants().await? {
            let mut after = 0i64;
            loop {
                let ring = self.pii().ring();
                let rows = self
                    .read
                    .query_all_raw(self.stmt(
                        "SELECT id, version, state, citizen_phone FROM orders WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT 500",
                        vec![t.id.0.into(), after.into()],
                    ))
                    .await?;
                let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                    break;
                };
                let lo: i64 = crate::col(first, "id")?;
                let hi: i64 = crate::col(last, "id")?;
                after = hi;
                let events = self
                    .read
                    .query_all_raw(self.stmt(
                        "SELECT order_id, seq, payload FROM order_events WHERE tenant_id = $1 AND order_id >= $2 AND order_id <= $3",
                        vec![t.id.0.into(), lo.into(), hi.into()],
                    ))
                    .await?;
                let mut secrets: std::collections::HashMap<i64, Vec<String>> =
                    std::collections::HashMap::new();
                let mut order_updates = Vec::new();
                for r in &rows {
                    report.orders += 1;
                    let id: i64 = crate::col(r, "id")?;
                    let stored = crate::packed::state_of(r, self.backend)?;
                    let plain = self.pii().open_json(&stored)?;
                    let order: jiesu_core::order::Order =
                        serde_json::from_str(&plain).map_err(crate::StoreError::corrupt)?;
                    let values: Vec<String> = crate::orders::pii_values(&order)
                        .into_iter()
                        .map(str::to_string)
                        .collect();
                    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                    let state = ring.seal_json(plain, &refs);
                    let phone: Option<String> = crate::col(r, "citizen_phone")?;
                    let new_phone = match &phone {
                        Some(p) => Some(ring.seal(&self.pii().open(p)?).into_owned()),
                        None => None,
                    };
                    if state != stored || new_phone != phone {
                        let version: i32 = crate::col(r, "version")?;
                        order_updates.push(self.stmt(
                            "UPDATE orders SET state = $3, citizen_phone = $4 WHERE tenant_id = $1 AND id = $2 AND version = $5",
                            vec![
                                t.id.0.into(),
                                id.into(),
                                crate::packed::stored(self.backend, state)?,
                                new_phone.into(),
                                version.into(),
                            ],
                        ));
                    }
                    secrets.insert(id, values);
                }
                let mut event_updates = Vec::new();
                for e in &events {
                    let id: i64 = crate::col(e, "order_id")?;
                    let stored: String = crate::col(e, "payload")?;
                    let plain = self.pii().open_json(&stored)?;
                    let refs: Vec<&str> = secrets
                        .get(&id)
                        .map(|v| v.iter().map(String::as_str).collect())
                        .unwrap_or_default();
                    let payload = ring.seal_json(plain, &refs);
                    if payload != stored {
                        let seq: i32 = crate::col(e, "seq")?;
                        event_updates.push(self.stmt(
                            "UPDATE order_events SET payload = $4 WHERE tenant_id = $1 AND order_id = $2 AND seq = $3",
                            vec![t.id.0.into(), id.into(), seq.into(), payload.into()],
                        ));
                    }
                }
                report.events_resealed += event_updates.len() as u64;
                let planned = order_updates.len() as u64;
                let done = self
                    .writer
                    .submit(move |tx| {
                        let (order_updates, event_updates) =
                            (order_updates.clone(), event_updates.clone());
                        Box::pin(async move {
                            let mut done = 0u64;
                            for q in order_updates {
                                done += tx.execute(q).await?;
                            }
                            for q in event_updates {
                                tx.execute(q).await?;
                            }
                            Ok(done)
                        })
                    })
                    .await?;
                report.orders_resealed += done;
                report.changed_meanwhile += planned - done.min(planned);
                progress(report.orders);
            }
            report.values_resealed += self.reseal_numbers(t.id).await?;
        }
        Ok(report)
    }

    /// Re-seals the citizens' numbers standing alone in a column ([`NUMBER_COLUMNS`]).
    async fn reseal_numbers(&self, tenant: jiesu_core::TenantId) -> crate::Result<u64> {
        let mut resealed = 0u64;
        for (table, column) in NUMBER_COLUMNS {
            let mut after = 0i64;
            loop {
                let ring = self.pii().ring();
                let rows = self
                    .read
                    .query_all_raw(self.stmt(
                        &format!(
                            "SELECT id, {column} AS v FROM {table} WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT 1000"
                        ),
                        vec![tenant.0.into(), after.into()],
                    ))
                    .await?;
                let Some(last) = rows.last() else { break };
                after = crate::col(last, "id")?;
                let mut updates = Vec::new();
                for r in &rows {
                    let stored: String = crate::col(r, "v")?;
                    let sealed = seal_number(&ring, &self.pii().open(&stored)?);
                    if sealed != stored {
                        let id: i64 = crate::col(r, "id")?;
                        updates.push(self.stmt(
                            &format!(
                                "UPDATE {table} SET {column} = $3 WHERE tenant_id = $1 AND id = $2"
                            ),
                            vec![tenant.0.into(), id.into(), sealed.into()],
                        ));
                    }
                }
                resealed += updates.len() as u64;
                if !updates.is_empty() {
                    self.write_all(updates).await?;
                }
            }
        }
        Ok(resealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::of_secret("k1", &[7u8; 32])
    }

    #[test]
    fn values_seal_to_one_token_and_open_again() {
        let r = ring();
        let t = r.seal("13912345678");
        assert!(t.starts_with("/pii1:k1:"), "{t}");
        assert!(!t.contains("13912345678"));
        assert_eq!(r.seal("13912345678"), t, "one value, one token");
        assert_ne!(r.seal("13912345679"), t);
        assert_eq!(r.open(&t).unwrap(), "13912345678");
        assert_eq!(
            r.open("13912345678").unwrap(),
            "13912345678",
            "plaintext passes"
        );
        assert!(r.lookups("13912345678").contains(&t.to_string()));
        assert!(
            r.lookups("13912345678")
                .contains(&"13912345678".to_string())
        );
    }

    #[test]
    fn another_key_or_a_changed_token_does_not_open() {
        let t = ring().seal("110101199003071234").into_owned();
        let other = Keyring::of_secret("k1", &[8u8; 32]);
        assert!(matches!(other.open(&t), Err(PiiError::Broken(_))));
        assert!(matches!(
            Keyring::of_secret("k2", &[7u8; 32]).open(&t),
            Err(PiiError::UnknownKey(id)) if id == "k1"
        ));
        let mut bytes = t.into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).unwrap();
        assert!(matches!(ring().open(&changed), Err(PiiError::Broken(_))));
    }

    #[test]
    fn documents_give_back_exactly_what_was_sealed() {
        let r = ring();
        let doc = serde_json::json!({
            "citizen": {"name": "李女士", "phone": "13912345678", "id_number": "11010119900307123X"},
            "content": "电话 13912345678 打不通，\"\\/pii1:k1:AAAA\" 是乱写的",
            "note": "\\/pii1:k9:xyz",
            "also": "13912345678",
        })
        .to_string();
        let sealed = r.seal_json(doc.clone(), &["13912345678", "11010119900307123X"]);
        assert!(!sealed.contains("\"13912345678\""));
        assert!(!sealed.contains("11010119900307123X"));
        assert!(
            sealed.contains("电话 13912345678"),
            "free text is not a field"
        );
        // Still JSON: the tokens read as `/pii1:…` strings.
        let v: serde_json::Value = serde_json::from_str(&sealed).unwrap();
        assert!(v["citizen"]["phone"].as_str().unwrap().starts_with(PREFIX));
        assert_eq!(v["also"], v["citizen"]["phone"]);
        assert_eq!(r.open_json(&sealed).unwrap(), doc);
        // Text without tokens (however it looks like one) opens as itself.
        assert_eq!(r.open_json(&doc).unwrap(), doc);
    }

    #[test]
    fn without_keys_nothing_is_sealed() {
        let r = Keyring::none();
        assert_eq!(r.seal("13912345678"), "13912345678");
        let doc = r#"{"phone":"13912345678"}"#.to_string();
        assert_eq!(r.seal_json(doc.clone(), &["13912345678"]), doc);
        let sealed = ring().seal_json(doc, &["13912345678"]);
        assert!(matches!(r.open_json(&sealed), Err(PiiError::UnknownKey(_))));
    }

    #[test]
    fn the_key_file_is_created_owner_only_and_grows_by_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/pii.json");
        let (first, created) = Keyring::load_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(first.ids(), ["k1"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let t = first.seal("13912345678").into_owned();
        let keys = PiiKeys::new(Some(path.clone()), Keyring::load(&path).unwrap());
        assert_eq!(add_key(&path).unwrap(), "k2");
        // The node has not seen k2 yet: a token under it makes it read the file again.
        let (second, created) = Keyring::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(second.current_id(), Some("k2"));
        let t2 = second.seal("13912345678").into_owned();
        assert_ne!(t, t2);
        assert_eq!(keys.open(&t2).unwrap(), "13912345678");
        assert_eq!(keys.ring().current_id(), Some("k2"));
        assert_eq!(keys.open(&t).unwrap(), "13912345678", "k1 still opens");
        remove_keys(&path, &["k1".to_string()]).unwrap();
        assert_eq!(Keyring::load(&path).unwrap().ids(), ["k2"]);
        assert!(remove_keys(&path, &["k2".to_string()]).is_err());
    }
}
