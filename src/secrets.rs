//! Secrets passerelle can create for itself when none is configured (development JWT secret,
//! audit pseudonym key): random, written once under the data directory, readable by the owner only.

use std::path::Path;

use crate::config::Secret;

/// Reads `<data_dir>/<file_name>`, or creates it with 32 random bytes (hex) the first time.
pub fn load_or_create(data_dir: &Path, file_name: &str) -> std::io::Result<Secret> {
    let path = data_dir.join(file_name);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            return Ok(Secret(existing));
        }
    }
    std::fs::create_dir_all(data_dir)?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    write_private(&path, secret.as_bytes())?;
    tracing::warn!(path = %path.display(), "created a secret under the data directory (configure one in production)");
    Ok(Secret(secret))
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path(), "k").unwrap();
        let b = load_or_create(dir.path(), "k").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.expose().len(), 64);
    }
}
