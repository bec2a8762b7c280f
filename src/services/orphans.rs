//! The orphan sweep: files are stored before the transaction that records them (no upload ever
//! holds a database lock), so a transaction that fails or a crash in between leaves a stored
//! document no row refers to. Retention collects those once they are older than
//! [`ORPHAN_AGE`] — younger ones may belong to a transaction still under way.

use std::sync::Arc;
use std::time::SystemTime;

use crate::db::{Db, blobs};
use crate::error::ApiError;
use crate::storage::{DocumentStore, ORPHAN_AGE};

/// Deletes the stored documents no row refers to and not stored for [`ORPHAN_AGE`]; returns
/// how many.
pub async fn collect(db: &Db, store: &Arc<dyn DocumentStore>) -> Result<usize, ApiError> {
    let listing = store.clone();
    let old: Vec<String> = actix_web::web::block(move || listing.list())
        .await??
        .into_iter()
        .filter(|d| is_old(d.stored_at))
        .map(|d| d.sha256)
        .collect();
    if old.is_empty() {
        return Ok(0);
    }
    let keys = old.clone();
    let referenced = db
        .run(move |conn| Ok(blobs::referenced(conn, &keys)?))
        .await?;
    let orphans: Vec<String> = old
        .into_iter()
        .filter(|k| !referenced.contains(k))
        .collect();
    let store = store.clone();
    let deleted = actix_web::web::block(move || {
        let mut deleted = 0;
        for key in orphans {
            // Stored again since the listing (a deposit of the same bytes renews the time):
            // no longer an orphan candidate.
            if store.stored_at(&key)?.is_some_and(is_old) {
                store.delete(&key)?;
                deleted += 1;
            }
        }
        Ok::<_, crate::storage::StorageError>(deleted)
    })
    .await??;
    Ok(deleted)
}

fn is_old(stored_at: SystemTime) -> bool {
    stored_at.elapsed().is_ok_and(|age| age >= ORPHAN_AGE)
}
