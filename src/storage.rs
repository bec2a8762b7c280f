//! The document store: content-addressed files (sha256) under `<data_dir>/blobs`, behind a trait
//! so an object store can come later. Writes are atomic (temporary file, fsync, rename): a
//! crash or a full disk never leaves a half-written document under its final name.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the document store is full or unwritable: {0}")]
    Write(std::io::Error),
    #[error("document {0} is missing from the store")]
    Missing(String),
    #[error("cannot read document {0}: {1}")]
    Read(String, std::io::Error),
}

impl StorageError {
    pub fn code(&self) -> &'static str {
        match self {
            StorageError::Write(_) => "storage_unavailable",
            StorageError::Missing(_) | StorageError::Read(..) => "document_missing",
        }
    }
}

/// Where documents live. Implementations must be safe to share between threads.
pub trait DocumentStore: Send + Sync {
    /// Stores bytes; returns their sha256 (hex), which is also their key.
    fn put(&self, bytes: &[u8]) -> Result<String, StorageError>;
    /// Moves a file already hashed by the caller (`sha256`) into the store. The file must be on
    /// the same file system (uploads are received under the data directory).
    fn adopt(&self, path: &Path, sha256: &str) -> Result<(), StorageError>;
    fn get(&self, sha256: &str) -> Result<Vec<u8>, StorageError>;
    fn contains(&self, sha256: &str) -> bool;
    /// Deletes a document; deleting a missing one is not an error.
    fn delete(&self, sha256: &str) -> Result<(), StorageError>;
}

/// sha256 of bytes, hex-encoded.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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
        // Keys are our own hex digests; anything else never reaches the file system.
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
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
            return Ok(digest);
        }
        let dir = path.parent().expect("fan-out directory");
        std::fs::create_dir_all(dir).map_err(StorageError::Write)?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            &digest[2..],
            uuid::Uuid::new_v4().simple()
        ));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
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
            return Ok(());
        }
        let dir = target.parent().expect("fan-out directory");
        std::fs::create_dir_all(dir).map_err(StorageError::Write)?;
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
    fn keys_that_are_not_digests_never_touch_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        assert!(matches!(
            store.get("../../etc/passwd"),
            Err(StorageError::Missing(_))
        ));
        assert!(!store.contains("zz"));
    }
}
