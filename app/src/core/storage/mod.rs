//! Where blobs live. For now the local filesystem under the data directory:
//! its location, a write probe for health checks and its free space.

use std::path::{Path, PathBuf};

use crate::core::{Error, Result};

/// Free and total bytes of the filesystem holding the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskSpace {
    pub free_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Clone, Debug)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    /// Opens (creating when missing) the store rooted at `root`.
    pub async fn open(root: PathBuf) -> Result<Self> {
        tokio::fs::create_dir_all(&root).await.map_err(|source| Error::Storage { path: root.clone(), source })?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Proves the store is writable: writes, syncs and removes a probe file.
    pub async fn check_writable(&self) -> Result<()> {
        let probe = self.root.join(".health-probe");
        let io = |source| Error::Storage { path: probe.clone(), source };
        let write = async {
            let mut file = tokio::fs::File::create(&probe).await?;
            tokio::io::AsyncWriteExt::write_all(&mut file, b"ok").await?;
            file.sync_all().await?;
            tokio::fs::remove_file(&probe).await
        };
        write.await.map_err(io)
    }

    pub async fn disk_space(&self) -> Result<DiskSpace> {
        let root = self.root.clone();
        let space = tokio::task::spawn_blocking(move || -> std::io::Result<DiskSpace> {
            Ok(DiskSpace { free_bytes: fs4::available_space(&root)?, total_bytes: fs4::total_space(&root)? })
        })
        .await?;
        space.map_err(|source| Error::Storage { path: self.root.clone(), source })
    }
}
