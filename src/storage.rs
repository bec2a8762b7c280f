//! The document store: content-addressed documents (sha256 keys), behind a trait with two
//! backends — files under `<data_dir>/blobs` (the zero-config default) and an S3-compatible
//! object store (`storage.url = "s3://bucket/prefix"`), which several instances share.
//! Local writes are atomic (temporary file, fsync, rename); an S3 PUT or multipart upload is
//! atomic by itself: a crash never leaves a half-written document under its final key.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the document store is full or unwritable: {0}")]
    Write(std::io::Error),
    #[error("document {0} is missing from the store")]
    Missing(String),
    #[error("cannot read document {0}: {1}")]
    Read(String, std::io::Error),
    #[error("the document store is misconfigured: {0}")]
    Config(String),
}

impl StorageError {
    pub fn code(&self) -> &'static str {
        match self {
            StorageError::Write(_) | StorageError::Config(_) => "storage_unavailable",
            StorageError::Missing(_) | StorageError::Read(..) => "document_missing",
        }
    }
}

/// Where documents live. Implementations must be safe to share between threads. The methods
/// block (an object store waits for the network): call them from blocking code (`web::block`,
/// job workers' blocking sections), never directly on an async worker thread.
pub trait DocumentStore: Send + Sync {
    /// Stores bytes; returns their sha256 (hex), which is also their key.
    fn put(&self, bytes: &[u8]) -> Result<String, StorageError>;
    /// Moves a file already hashed by the caller (`sha256`) into the store (local: a rename, so
    /// uploads are received under the data directory; object store: a streamed upload, after
    /// which the caller's temporary file is deleted as usual).
    fn adopt(&self, path: &Path, sha256: &str) -> Result<(), StorageError>;
    fn get(&self, sha256: &str) -> Result<Vec<u8>, StorageError>;
    fn contains(&self, sha256: &str) -> bool;
    /// Deletes a document; deleting a missing one is not an error.
    fn delete(&self, sha256: &str) -> Result<(), StorageError>;
    /// Whether the store answers (readiness): an object store is asked for a missing key.
    fn ready(&self) -> Result<(), StorageError> {
        Ok(())
    }
    /// Every stored document with when it was last stored, for the orphan sweep.
    fn list(&self) -> Result<Vec<StoredDocument>, StorageError>;
    /// When a document was last stored; None when it is not in the store.
    fn stored_at(&self, sha256: &str) -> Result<Option<SystemTime>, StorageError>;
}

/// A document in the store and when it was last stored.
#[derive(Debug, Clone)]
pub struct StoredDocument {
    pub sha256: String,
    pub stored_at: SystemTime,
}

/// A document no row refers to is collected once it has not been stored for this long: files
/// are stored before the transaction that records them, so a young unreferenced document may be
/// one whose transaction has not committed yet.
pub const ORPHAN_AGE: Duration = Duration::from_secs(24 * 3600);

/// Storing bytes the store already holds renews their time when it is older than this, so a
/// document being recorded again is never old enough to be taken for an orphan.
const RENEW_AFTER: Duration = Duration::from_secs(3600);

/// The store the configuration names: the local directory unless `storage.url` is set.
pub fn from_config(config: &crate::config::Config) -> Result<Arc<dyn DocumentStore>, StorageError> {
    if config.storage.url.trim().is_empty() {
        Ok(Arc::new(LocalStore::new(&config.data_dir)))
    } else {
        Ok(Arc::new(ObjectStoreBackend::s3(&config.storage)?))
    }
}

/// Deletes documents from async code, on a blocking thread (an object store waits for the
/// network).
pub async fn delete_off_thread(
    store: &Arc<dyn DocumentStore>,
    keys: Vec<String>,
) -> Result<(), crate::error::ApiError> {
    let store = store.clone();
    actix_web::web::block(move || keys.iter().try_for_each(|k| store.delete(k))).await??;
    Ok(())
}

/// Adopts a received file from async code, on a blocking thread.
pub async fn adopt_off_thread(
    store: &Arc<dyn DocumentStore>,
    path: &Path,
    sha256: &str,
) -> Result<(), crate::error::ApiError> {
    let (store, path, sha256) = (store.clone(), path.to_owned(), sha256.to_owned());
    actix_web::web::block(move || store.adopt(&path, &sha256)).await??;
    Ok(())
}

/// Keys are our own hex digests; anything else never reaches a file system or a bucket.
fn is_digest(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

/// sha256 of bytes, hex-encoded.
/// Creates a directory (and its parents) readable by passerelle's user only (0700): stored
/// documents are transcripts and identity papers.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates (or truncates) a file readable by passerelle's user only (0600).
pub fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Temporary uploads not written to for this long are left by a crash (a live upload writes
/// at least every `limits.body_idle_timeout_secs`, and is adopted or dropped right after).
pub const ABANDONED_UPLOAD_AGE: std::time::Duration = std::time::Duration::from_secs(120);

/// Removes the temporary uploads a crash left under `tmp_dir`; returns how many.
pub fn remove_abandoned_uploads(tmp_dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(tmp_dir) else {
        return 0;
    };
    let now = std::time::SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let abandoned = entry.file_name().to_string_lossy().starts_with("upload-")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).unwrap_or_default() >= ABANDONED_UPLOAD_AGE);
        if abandoned && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Renews a stored file's modification time (see [`RENEW_AFTER`]).
fn renew(path: &Path) -> Result<(), StorageError> {
    let now = SystemTime::now();
    let file = std::fs::File::open(path).map_err(StorageError::Write)?;
    let modified = file.metadata().and_then(|m| m.modified());
    if modified.is_ok_and(|t| now.duration_since(t).unwrap_or_default() < RENEW_AFTER) {
        return Ok(());
    }
    file.set_modified(now).map_err(StorageError::Write)
}

/// Files under a local directory, two levels of fan-out: `ab/cdef…`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(data_dir: &Path) -> LocalStore {
        LocalStore {
            root: data_dir.join("blobs"),
        }
    }

    fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        if !is_digest(sha256) {
            return None;
        }
        Some(self.root.join(&sha256[..2]).join(&sha256[2..]))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl DocumentStore for LocalStore {
    fn put(&self, bytes: &[u8]) -> Result<String, StorageError> {
        let digest = sha256_hex(bytes);
        let path = self
            .path_of(&digest)
            .expect("a sha256 digest is a valid key");
        if path.exists() {
            renew(&path)?;
            return Ok(digest);
        }
        let dir = path.parent().expect("fan-out directory");
        private_dir(dir).map_err(StorageError::Write)?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            &digest[2..],
            uuid::Uuid::new_v4().simple()
        ));
        let write = || -> std::io::Result<()> {
            let mut file = private_file(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(StorageError::Write(e));
        }
        Ok(digest)
    }

    fn adopt(&self, path: &Path, sha256: &str) -> Result<(), StorageError> {
        let target = self
            .path_of(sha256)
            .ok_or_else(|| StorageError::Missing(sha256.to_owned()))?;
        if target.exists() {
            return renew(&target);
        }
        let dir = target.parent().expect("fan-out directory");
        private_dir(dir).map_err(StorageError::Write)?;
        std::fs::rename(path, &target).map_err(StorageError::Write)
    }

    fn get(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        let path = self
            .path_of(sha256)
            .ok_or_else(|| StorageError::Missing(sha256.to_owned()))?;
        std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StorageError::Missing(sha256.to_owned()),
            _ => StorageError::Read(sha256.to_owned(), e),
        })
    }

    fn contains(&self, sha256: &str) -> bool {
        self.path_of(sha256).is_some_and(|p| p.exists())
    }

    fn delete(&self, sha256: &str) -> Result<(), StorageError> {
        let Some(path) = self.path_of(sha256) else {
            return Ok(());
        };
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::Write(e)),
        }
    }

    fn list(&self) -> Result<Vec<StoredDocument>, StorageError> {
        let mut out = Vec::new();
        let fans = match std::fs::read_dir(&self.root) {
            Ok(fans) => fans,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StorageError::Read("the store's directory".into(), e)),
        };
        for fan in fans.flatten() {
            let Ok(files) = std::fs::read_dir(fan.path()) else {
                continue;
            };
            for file in files.flatten() {
                // Temporary files of a write in progress (`.…tmp`) are no documents.
                let sha256 = format!(
                    "{}{}",
                    fan.file_name().to_string_lossy(),
                    file.file_name().to_string_lossy()
                );
                if !is_digest(&sha256) {
                    continue;
                }
                if let Ok(stored_at) = file.metadata().and_then(|m| m.modified()) {
                    out.push(StoredDocument { sha256, stored_at });
                }
            }
        }
        Ok(out)
    }

    fn stored_at(&self, sha256: &str) -> Result<Option<SystemTime>, StorageError> {
        let Some(path) = self.path_of(sha256) else {
            return Ok(None);
        };
        match std::fs::metadata(path).and_then(|m| m.modified()) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::Read(sha256.to_owned(), e)),
        }
    }
}

/// An S3-compatible object store (AWS S3, MinIO, Ceph RGW, Garage, moto…) through the
/// `object_store` crate. Keys: `<prefix>/ab/cdef…` (sha256), so instances writing the same
/// document write the same bytes under the same key. Large files are uploaded in parts of
/// `storage.part_size_bytes`, read one part at a time from the caller's temporary file.
pub struct ObjectStoreBackend {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    part_size: usize,
}

/// The runtime the object store's futures run on: the trait is blocking (its callers sit on
/// blocking threads), and a runtime of our own never meets the caller's (actix or a test's).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("passerelle-store")
            .enable_all()
            .build()
            .expect("the document store's runtime starts")
    })
}

/// Runs a future on the store's runtime and waits for it from this (blocking) thread.
fn block_on<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().expect("the document store's runtime is running")
}

fn io_error(e: object_store::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl ObjectStoreBackend {
    /// From `storage.url = "s3://bucket/prefix"` plus endpoint, region and credentials (the
    /// usual `AWS_*` environment variables fill what the configuration leaves empty).
    pub fn s3(config: &crate::config::StorageConfig) -> Result<ObjectStoreBackend, StorageError> {
        let url = config.url.trim();
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            StorageError::Config(format!(
                "storage.url must be empty (local directory) or s3://bucket/prefix, not {url:?}"
            ))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StorageError::Config("storage.url names no bucket".into()));
        }
        crate::http_client::install_tls_provider();
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_allow_http(config.allow_http);
        if !config.endpoint.is_empty() {
            builder = builder.with_endpoint(&config.endpoint);
        }
        if !config.region.is_empty() {
            builder = builder.with_region(&config.region);
        }
        if !config.access_key_id.is_empty() {
            builder = builder.with_access_key_id(&config.access_key_id);
        }
        if !config.secret_access_key.is_empty() {
            builder = builder.with_secret_access_key(config.secret_access_key.expose());
        }
        let store = builder
            .build()
            .map_err(|e| StorageError::Config(e.to_string()))?;
        Ok(ObjectStoreBackend {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_owned(),
            part_size: config.part_size_bytes.max(5 * 1024 * 1024),
        })
    }

    fn key(&self, sha256: &str) -> Option<object_store::path::Path> {
        if !is_digest(sha256) {
            return None;
        }
        let key = format!("{}/{}", &sha256[..2], &sha256[2..]);
        Some(if self.prefix.is_empty() {
            object_store::path::Path::from(key)
        } else {
            object_store::path::Path::from(format!("{}/{key}", self.prefix))
        })
    }

    fn exists(&self, key: &object_store::path::Path) -> Result<bool, object_store::Error> {
        self.head(key).map(|meta| meta.is_some())
    }

    fn head(
        &self,
        key: &object_store::path::Path,
    ) -> Result<Option<object_store::ObjectMeta>, object_store::Error> {
        let store = self.store.clone();
        let key = key.clone();
        match block_on(async move { store.head(&key).await }) {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The digest a key names, when it is one of ours.
    fn digest_of(&self, key: &object_store::path::Path) -> Option<String> {
        let key = key.as_ref();
        let rest = if self.prefix.is_empty() {
            key
        } else {
            key.strip_prefix(&self.prefix)?.strip_prefix('/')?
        };
        let (fan, tail) = rest.split_once('/')?;
        let digest = format!("{fan}{tail}");
        (fan.len() == 2 && is_digest(&digest)).then_some(digest)
    }
}

impl DocumentStore for ObjectStoreBackend {
    fn put(&self, bytes: &[u8]) -> Result<String, StorageError> {
        let digest = sha256_hex(bytes);
        let key = self.key(&digest).expect("a sha256 digest is a valid key");
        let store = self.store.clone();
        let payload = PutPayload::from(bytes.to_vec());
        block_on(async move { store.put(&key, payload).await })
            .map_err(|e| StorageError::Write(io_error(e)))?;
        Ok(digest)
    }

    fn adopt(&self, path: &Path, sha256: &str) -> Result<(), StorageError> {
        let key = self
            .key(sha256)
            .ok_or_else(|| StorageError::Missing(sha256.to_owned()))?;
        // Held already, and recently enough stored not to be taken for an orphan: an object
        // store has no cheaper way than a new upload to renew an object's time.
        let held = self
            .head(&key)
            .map_err(|e| StorageError::Write(io_error(e)))?;
        if held.is_some_and(|meta| {
            SystemTime::from(meta.last_modified)
                .elapsed()
                .is_ok_and(|age| age < RENEW_AFTER)
        }) {
            return Ok(());
        }
        let mut file = std::fs::File::open(path).map_err(StorageError::Write)?;
        let size = file.metadata().map_err(StorageError::Write)?.len();
        let store = self.store.clone();
        if size <= self.part_size as u64 {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).map_err(StorageError::Write)?;
            return block_on(async move { store.put(&key, bytes.into()).await })
                .map(|_| ())
                .map_err(|e| StorageError::Write(io_error(e)));
        }
        // Multipart: one part in memory at a time; an upload that fails is aborted, so no
        // part is left billed in the bucket and nothing appears under the key.
        let mut upload = block_on(async move { store.put_multipart(&key).await })
            .map_err(|e| StorageError::Write(io_error(e)))?;
        let mut send_parts = || -> Result<(), StorageError> {
            loop {
                let mut part = Vec::with_capacity(self.part_size);
                (&mut file)
                    .take(self.part_size as u64)
                    .read_to_end(&mut part)
                    .map_err(StorageError::Write)?;
                if part.is_empty() {
                    return Ok(());
                }
                let sending = upload.put_part(part.into());
                block_on(sending).map_err(|e| StorageError::Write(io_error(e)))?;
            }
        };
        let sent = send_parts();
        block_on(async move {
            match sent {
                Ok(()) => upload
                    .complete()
                    .await
                    .map(|_| ())
                    .map_err(|e| StorageError::Write(io_error(e))),
                Err(e) => {
                    let _ = upload.abort().await;
                    Err(e)
                }
            }
        })
    }

    fn get(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        let key = self
            .key(sha256)
            .ok_or_else(|| StorageError::Missing(sha256.to_owned()))?;
        let store = self.store.clone();
        let found = block_on(async move {
            let got = store.get(&key).await?;
            got.bytes().await
        });
        match found {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(object_store::Error::NotFound { .. }) => {
                Err(StorageError::Missing(sha256.to_owned()))
            }
            Err(e) => Err(StorageError::Read(sha256.to_owned(), io_error(e))),
        }
    }

    fn contains(&self, sha256: &str) -> bool {
        let Some(key) = self.key(sha256) else {
            return false;
        };
        match self.exists(&key) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "the object store did not answer");
                false
            }
        }
    }

    fn delete(&self, sha256: &str) -> Result<(), StorageError> {
        let Some(key) = self.key(sha256) else {
            return Ok(());
        };
        let store = self.store.clone();
        match block_on(async move { store.delete(&key).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StorageError::Write(io_error(e))),
        }
    }

    fn list(&self) -> Result<Vec<StoredDocument>, StorageError> {
        use futures_util::TryStreamExt;
        let store = self.store.clone();
        let prefix =
            (!self.prefix.is_empty()).then(|| object_store::path::Path::from(self.prefix.as_str()));
        let metas: Vec<object_store::ObjectMeta> =
            block_on(async move { store.list(prefix.as_ref()).try_collect().await })
                .map_err(|e| StorageError::Read("the store's listing".into(), io_error(e)))?;
        Ok(metas
            .into_iter()
            .filter_map(|meta| {
                Some(StoredDocument {
                    sha256: self.digest_of(&meta.location)?,
                    stored_at: SystemTime::from(meta.last_modified),
                })
            })
            .collect())
    }

    fn stored_at(&self, sha256: &str) -> Result<Option<SystemTime>, StorageError> {
        let Some(key) = self.key(sha256) else {
            return Ok(None);
        };
        self.head(&key)
            .map(|meta| meta.map(|m| SystemTime::from(m.last_modified)))
            .map_err(|e| StorageError::Read(sha256.to_owned(), io_error(e)))
    }

    fn ready(&self) -> Result<(), StorageError> {
        let key = self.key(&"0".repeat(64)).expect("a valid key");
        self.exists(&key)
            .map(|_| ())
            .map_err(|e| StorageError::Read("readiness probe".into(), io_error(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_dedup_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let key = store.put(b"hello").unwrap();
        assert_eq!(key, sha256_hex(b"hello"));
        assert_eq!(store.put(b"hello").unwrap(), key);
        assert_eq!(store.get(&key).unwrap(), b"hello");
        assert!(store.contains(&key));
        store.delete(&key).unwrap();
        assert!(!store.contains(&key));
        assert!(matches!(store.get(&key), Err(StorageError::Missing(_))));
        store.delete(&key).unwrap();
    }

    #[test]
    fn storing_again_renews_an_old_document_and_the_listing_shows_documents_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let key = store.put(b"kept").unwrap();
        let path = store.path_of(&key).unwrap();
        let old = SystemTime::now() - 2 * ORPHAN_AGE;
        let set = |t| {
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(t)
                .unwrap()
        };
        set(old);
        assert!(store.stored_at(&key).unwrap().unwrap() <= old + Duration::from_secs(1));
        // A new deposit of the same bytes: no longer old enough to be taken for an orphan.
        store.put(b"kept").unwrap();
        assert!(store.stored_at(&key).unwrap().unwrap().elapsed().unwrap() < RENEW_AFTER);
        set(old);
        let temp = dir.path().join("upload");
        std::fs::write(&temp, b"kept").unwrap();
        store.adopt(&temp, &key).unwrap();
        assert!(store.stored_at(&key).unwrap().unwrap().elapsed().unwrap() < RENEW_AFTER);
        // A write in progress is no document.
        std::fs::write(path.parent().unwrap().join(".abc.tmp"), b"x").unwrap();
        let listed: Vec<String> = store
            .list()
            .unwrap()
            .into_iter()
            .map(|d| d.sha256)
            .collect();
        assert_eq!(listed, vec![key.clone()]);
        assert!(store.stored_at(&"0".repeat(64)).unwrap().is_none());
    }

    #[test]
    fn keys_that_are_not_digests_never_touch_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        assert!(matches!(
            store.get("../../etc/passwd"),
            Err(StorageError::Missing(_))
        ));
        assert!(!store.contains("zz"));
    }

    fn s3_config(url: &str) -> crate::config::StorageConfig {
        crate::config::StorageConfig {
            url: url.into(),
            endpoint: "http://127.0.0.1:9".into(),
            region: "us-east-1".into(),
            access_key_id: "k".into(),
            secret_access_key: crate::config::Secret("s".into()),
            allow_http: true,
            ..Default::default()
        }
    }

    #[test]
    fn s3_keys_are_digests_under_the_prefix() {
        let store = ObjectStoreBackend::s3(&s3_config("s3://bucket/some/prefix/")).unwrap();
        let digest = sha256_hex(b"x");
        assert_eq!(
            store.key(&digest).unwrap().as_ref(),
            format!("some/prefix/{}/{}", &digest[..2], &digest[2..])
        );
        assert!(store.key("../../etc/passwd").is_none());
        let bare = ObjectStoreBackend::s3(&s3_config("s3://bucket")).unwrap();
        assert_eq!(
            bare.key(&digest).unwrap().as_ref(),
            format!("{}/{}", &digest[..2], &digest[2..])
        );
        // Parts are never below S3's minimum.
        let mut small = s3_config("s3://bucket");
        small.part_size_bytes = 1;
        assert_eq!(
            ObjectStoreBackend::s3(&small).unwrap().part_size,
            5 * 1024 * 1024
        );
    }

    #[test]
    fn s3_urls_are_checked() {
        for url in ["http://bucket/prefix", "s3://", "s3:///prefix"] {
            assert!(
                matches!(
                    ObjectStoreBackend::s3(&s3_config(url)),
                    Err(StorageError::Config(_))
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn the_default_is_the_local_directory() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            data_dir: dir.path().to_owned(),
            ..Default::default()
        };
        let store = from_config(&config).unwrap();
        let key = store.put(b"local").unwrap();
        assert!(
            dir.path()
                .join("blobs")
                .join(&key[..2])
                .join(&key[2..])
                .exists()
        );
    }
}
