//! The JWT signing secret of the one-machine default: generated once into DATA_DIR, so tokens
//! survive restarts without anyone having to invent a secret.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::JwtSecret;

/// The secret's bytes: as given, or read from its file, creating the file (mode 0600) with 48
/// random bytes the first time.
pub fn load(secret: &JwtSecret) -> anyhow::Result<Vec<u8>> {
    match secret {
        JwtSecret::Given(bytes) => Ok(bytes.clone()),
        JwtSecret::File(path) => read_or_create(path),
    }
}

fn read_or_create(path: &Path) -> anyhow::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = STANDARD.decode(text.trim()).with_context(|| {
                format!("{} is not the base64 secret Dragoman wrote", path.display())
            })?;
            anyhow::ensure!(
                bytes.len() >= 32,
                "{} holds fewer than 32 bytes",
                path.display()
            );
            Ok(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = vec![0u8; 48];
            rand::fill(&mut bytes[..]);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(path) {
                Ok(mut file) => {
                    file.write_all(STANDARD.encode(&bytes).as_bytes())?;
                    file.sync_all()?;
                    Ok(bytes)
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_or_create(path),
                Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
            }
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("jwt-secret");
        let first = load(&JwtSecret::File(path.clone()))?;
        assert_eq!(first.len(), 48);
        assert_eq!(load(&JwtSecret::File(path))?, first);
        Ok(())
    }
}
