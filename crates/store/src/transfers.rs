//! Transfers between platforms: the peers a centre exchanges orders with and each transfer's
//! delivery state. Outbound rows wait (`pending`) until the other platform answers; inbound
//! rows (`accepted`) carry `synced_seq`, the last version of our order reported back.

use crate::{Result, Store, StoreError, col, from_ms, to_ms};
use chrono::{DateTime, Utc};
use jiesu_core::{OrderId, TenantId};
use sea_orm::ConnectionTrait;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    pub id: i64,
    #[serde(skip)]
    pub tenant: TenantId,
    /// The other platform's code; its requests to us name it in `from`.
    pub code: String,
    pub name: String,
    /// police_110, utility, grid or hotline.
    pub kind: String,
    /// Base URL of its transfer interface.
    pub url: String,
    /// Our credential at the other platform; never shown again.
    #[serde(skip)]
    pub token: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// One transfer, either way.
#[derive(Debug, Clone, Serialize)]
pub struct TransferRow {
    pub id: i64,
    #[serde(skip)]
    pub tenant: TenantId,
    pub peer_id: i64,
    /// out or in
    pub direction: String,
    pub key: String,
    pub order_id: i64,
    /// out: pending, accepted, rejected, failed; in: accepted, then closed once its finished
    /// order has been reported (the pass looks at it no more).
    pub state: String,
    pub remote_ref: Option<String>,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub synced_seq: u32,
    pub created_at: DateTime<Utc>,
}

const PEER_COLS: &str = "id, tenant_id, code, name, kind, url, token, active, created_at";
const TRANSFER_COLS: &str = "id, tenant_id, peer_id, direction, transfer_key, order_id, state, remote_ref, attempts, next_at, last_error, synced_seq, created_at";

fn peer_from_row(r: &impl crate::lite::Cols) -> Result<Peer> {
    Ok(Peer {
        id: col(r, "id")?,
        tenant: TenantId(col(r, "tenant_id")?),
        code: col(r, "code")?,
        name: col(r, "name")?,
        kind: col(r, "kind")?,
        url: col(r, "url")?,
        token: col(r, "token")?,
        active: col(r, "active")?,
        created_at: from_ms(col(r, "created_at")?),
    })
}

fn transfer_from_row(r: &impl crate::lite::Cols) -> Result<TransferRow> {
    Ok(TransferRow {
        id: col(r, "id")?,
        tenant: TenantId(col(r, "tenant_id")?),
        peer_id: col(r, "peer_id")?,
        direction: col(r, "direction")?,
        key: col(r, "transfer_key")?,
        order_id: col(r, "order_id")?,
        state: col(r, "state")?,
        remote_ref: col(r, "remote_ref")?,
        attempts: col::<i32>(r, "attempts")? as u32,
        next_at: from_ms(col(r, "next_at")?),
        last_error: col(r, "last_error")?,
        synced_seq: col::<i32>(r, "synced_seq")? as u32,
        created_at: from_ms(col(r, "created_at")?),
    })
}

/// A peer to create.
pub struct NewPeer<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub url: &'a str,
    pub token: &'a str,
}

impl Store {
    pub async fn create_peer(&self, tenant: TenantId, p: &NewPeer<'_>) -> Result<i64> {
        let row = match self
            .write
            .query_one_raw(self.stmt(
                "INSERT INTO transfer_peers (tenant_id, code, name, kind, url, token, active, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                vec![
                    tenant.0.into(),
                    p.code.into(),
                    p.name.into(),
                    p.kind.into(),
                    p.url.into(),
                    p.token.into(),
                    true.into(),
                    to_ms(Utc::now()).into(),
                ],
            ))
            .await
        {
            Err(e) if crate::is_unique_violation(&e) => return Err(StoreError::Duplicate("peer code")),
            r => r?.ok_or(StoreError::NotFound)?,
        };
        col(&row, "id")
    }

    pub async fn peers(&self, tenant: TenantId) -> Result<Vec<Peer>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                &format!("SELECT {PEER_COLS} FROM transfer_peers WHERE tenant_id = $1 ORDER BY id"),
                vec![tenant.0.into()],
            ))
            .await?;
        rows.iter().map(peer_from_row).collect()
    }

    pub async fn peer(&self, tenant: TenantId, id: i64) -> Result<Option<Peer>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                &format!("SELECT {PEER_COLS} FROM transfer_peers WHERE tenant_id = $1 AND id = $2"),
                vec![tenant.0.into(), id.into()],
            ))
            .await?;
        row.as_ref().map(peer_from_row).transpose()
    }

    pub async fn peer_by_code(&self, tenant: TenantId, code: &str) -> Result<Option<Peer>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                &format!(
                    "SELECT {PEER_COLS} FROM transfer_peers WHERE tenant_id = $1 AND code = $2"
                ),
                vec![tenant.0.into(), code.into()],
            ))
            .await?;
        row.as_ref().map(peer_from_row).transpose()
    }

    pub async fn set_peer_active(&self, tenant: TenantId, id: i64, active: bool) -> Result<()> {
        let r = self
            .write
            .execute_raw(self.stmt(
                "UPDATE transfer_peers SET active = $3 WHERE tenant_id = $1 AND id = $2",
                vec![tenant.0.into(), id.into(), active.into()],
            ))
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Records a transfer; `None` when one with this peer, direction and key exists already.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_transfer(
        &self,
        tenant: TenantId,
        peer_id: i64,
        direction: &str,
        key: &str,
        order: OrderId,
        state: &str,
        remote_ref: Option<&str>,
    ) -> Result<Option<i64>> {
        let now = to_ms(Utc::now());
        let row = self
            .write
            .query_one_raw(self.stmt(
                "INSERT INTO transfers (tenant_id, peer_id, direction, transfer_key, order_id, state, remote_ref, attempts, next_at, synced_seq, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, 0, $8) \
                 ON CONFLICT (tenant_id, peer_id, direction, transfer_key) DO NOTHING RETURNING id",
                vec![
                    tenant.0.into(),
                    peer_id.into(),
                    direction.into(),
                    key.into(),
                    order.0.into(),
                    state.into(),
                    remote_ref.map(String::from).into(),
                    now.into(),
                ],
            ))
            .await?;
        row.map(|r| col(&r, "id")).transpose()
    }

    pub async fn delete_transfer(&self, tenant: TenantId, id: i64) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "DELETE FROM transfers WHERE tenant_id = $1 AND id = $2",
                vec![tenant.0.into(), id.into()],
            ))
            .await?;
        Ok(())
    }

    pub async fn transfer_by_key(
        &self,
        tenant: TenantId,
        peer_id: i64,
        direction: &str,
        key: &str,
    ) -> Result<Option<TransferRow>> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                &format!(
                    "SELECT {TRANSFER_COLS} FROM transfers WHERE tenant_id = $1 AND peer_id = $2 AND direction = $3 AND transfer_key = $4"
                ),
                vec![tenant.0.into(), peer_id.into(), direction.into(), key.into()],
            ))
            .await?;
        row.as_ref().map(transfer_from_row).transpose()
    }

    /// The transfers of one order, either way.
    pub async fn order_transfers(
        &self,
        tenant: TenantId,
        order: OrderId,
    ) -> Result<Vec<TransferRow>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                &format!(
                    "SELECT {TRANSFER_COLS} FROM transfers WHERE tenant_id = $1 AND order_id = $2 ORDER BY id"
                ),
                vec![tenant.0.into(), order.0.into()],
            ))
            .await?;
        rows.iter().map(transfer_from_row).collect()
    }

    /// Outbound transfers waiting to be sent, and inbound ones whose order changed since it
    /// was last reported (across tenants: the background pass), claimed for this node for
    /// `lease` (see `Store::claim`).
    pub async fn due_transfers(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<TransferRow>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT t.id, t.tenant_id, t.peer_id, t.direction, t.transfer_key, t.order_id, t.state, t.remote_ref, \
                 t.attempts, t.next_at, t.last_error, t.synced_seq, t.created_at \
                 FROM transfers t JOIN transfer_peers p ON p.tenant_id = t.tenant_id AND p.id = t.peer_id \
                 LEFT JOIN orders o ON t.direction = 'in' AND o.tenant_id = t.tenant_id AND o.id = t.order_id \
                 WHERE p.active AND t.next_at <= $1 \
                 AND ((t.direction = 'out' AND t.state = 'pending') OR (t.direction = 'in' AND t.state = 'accepted' AND o.version > t.synced_seq)) \
                 ORDER BY t.next_at, t.id LIMIT $2",
                vec![to_ms(now).into(), i64::from(limit).into()],
            ))
            .await?;
        let due: Vec<TransferRow> = rows.iter().map(transfer_from_row).collect::<Result<_>>()?;
        let keys: Vec<(i64, i64)> = due.iter().map(|t| (t.tenant.0, t.id)).collect();
        let got = self.claim("transfers", &keys, now, lease).await?;
        Ok(due
            .into_iter()
            .filter(|t| got.contains(&(t.tenant.0, t.id)))
            .collect())
    }

    /// The outcome of one attempt: a new state, a remote reference, the version reported, or
    /// the next try.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_transfer(
        &self,
        tenant: TenantId,
        id: i64,
        state: &str,
        remote_ref: Option<&str>,
        attempts: u32,
        next_at: DateTime<Utc>,
        last_error: Option<&str>,
        synced_seq: u32,
    ) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "UPDATE transfers SET state = $3, remote_ref = COALESCE($4, remote_ref), attempts = $5, next_at = $6, \
                 last_error = $7, synced_seq = $8 WHERE tenant_id = $1 AND id = $2",
                vec![
                    tenant.0.into(),
                    id.into(),
                    state.into(),
                    remote_ref.map(String::from).into(),
                    (attempts as i32).into(),
                    to_ms(next_at).into(),
                    last_error.map(String::from).into(),
                    (synced_seq as i32).into(),
                ],
            ))
            .await?;
        Ok(())
    }
}
