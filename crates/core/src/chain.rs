//! Tamper evidence for order histories: each stored event carries a SHA-256 over its own stored
//! text and the previous event's hash, so that editing, deleting or reordering any event breaks
//! every later link.

use crate::ids::TenantId;
use sha2::{Digest, Sha256};

/// The hash of one stored event. `prev_hash` is empty for the first event of an order.
pub fn event_hash(
    prev_hash: &str,
    tenant: TenantId,
    order_number: &str,
    seq: u32,
    payload_json: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(b"jiesu-event-v1\n");
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(tenant.0.to_string().as_bytes());
    h.update(b"\n");
    h.update(order_number.as_bytes());
    h.update(b"\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(payload_json.as_bytes());
    hex::encode(h.finalize())
}

/// One stored event as the verifier sees it.
#[derive(Debug, Clone)]
pub struct Link<'a> {
    pub seq: u32,
    pub prev_hash: &'a str,
    pub hash: &'a str,
    pub payload_json: &'a str,
}

/// Where and why a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: u32,
    pub reason: String,
}

/// Checks a whole chain in sequence order; names the first broken link.
pub fn verify<'a>(
    tenant: TenantId,
    order_number: &str,
    links: impl IntoIterator<Item = Link<'a>>,
) -> Result<String, BrokenLink> {
    let mut prev = String::new();
    let mut expected_seq = 1;
    for l in links {
        if l.seq != expected_seq {
            return Err(BrokenLink {
                seq: l.seq,
                reason: format!(
                    "expected event #{expected_seq}, found #{} (an event is missing or reordered)",
                    l.seq
                ),
            });
        }
        if l.prev_hash != prev {
            return Err(BrokenLink {
                seq: l.seq,
                reason: "prev_hash does not match the previous event's hash".into(),
            });
        }
        let h = event_hash(&prev, tenant, order_number, l.seq, l.payload_json);
        if h != l.hash {
            return Err(BrokenLink {
                seq: l.seq,
                reason: "hash does not match the stored content (the event was altered)".into(),
            });
        }
        prev = h;
        expected_seq += 1;
    }
    if expected_seq == 1 {
        return Err(BrokenLink {
            seq: 0,
            reason: "the order has no events".into(),
        });
    }
    Ok(prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(payloads: &[&str]) -> Vec<(String, String, String)> {
        let mut prev = String::new();
        let mut out = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            let h = event_hash(&prev, TenantId(1), "N1", i as u32 + 1, p);
            out.push((prev.clone(), h.clone(), p.to_string()));
            prev = h;
        }
        out
    }

    fn links(c: &[(String, String, String)]) -> Vec<Link<'_>> {
        c.iter()
            .enumerate()
            .map(|(i, (p, h, j))| Link {
                seq: i as u32 + 1,
                prev_hash: p,
                hash: h,
                payload_json: j,
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(&["a", "b", "c"]);
        assert_eq!(verify(TenantId(1), "N1", links(&c)).unwrap(), c[2].1);
    }

    #[test]
    fn an_edited_event_is_named() {
        let mut c = chain(&["a", "b", "c"]);
        c[1].2 = "B".into();
        assert_eq!(verify(TenantId(1), "N1", links(&c)).unwrap_err().seq, 2);
    }

    #[test]
    fn a_deleted_event_is_detected() {
        let mut c = chain(&["a", "b", "c"]);
        c.remove(1);
        let l: Vec<Link> = links(&c);
        assert_eq!(verify(TenantId(1), "N1", l).unwrap_err().seq, 2);
    }

    #[test]
    fn events_cannot_move_between_orders_or_tenants() {
        let c = chain(&["a"]);
        assert!(verify(TenantId(1), "N2", links(&c)).is_err());
        assert!(verify(TenantId(2), "N1", links(&c)).is_err());
    }
}
