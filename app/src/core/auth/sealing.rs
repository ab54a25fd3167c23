//! Sealing small secrets Berth must read back (CLI secrets, OIDC refresh
//! tokens, sign-ins in flight kept in the browser): AES-256-GCM under one
//! key shared by every node through `signing_keys`. The caller's `context`
//! (what the value is and whose) is the associated data, so a sealed value
//! moved to another place or user fails to open.

use std::sync::Arc;

use rand::{RngCore, rngs::OsRng};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::keys::{self, GeneratedKey};
use crate::core::{Error, Result, db::Db};

const PURPOSE: &str = "sealing";

#[derive(Clone)]
pub struct SealingKey {
    db: Db,
    key: Arc<OnceCell<LessSafeKey>>,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey").finish_non_exhaustive()
    }
}

impl SealingKey {
    pub fn new(db: Db) -> Self {
        Self { db, key: Arc::default() }
    }

    /// The nonce followed by the ciphertext and its tag.
    pub async fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = self.key().await?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let mut in_out = plaintext.to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| Error::Crypto(format!("cannot seal a {context}")))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// The plaintext of a value sealed for `context`; `None` when it was not
    /// (tampered with, truncated, or sealed for something else).
    pub async fn open(&self, context: &str, sealed: &[u8]) -> Result<Option<Vec<u8>>> {
        let key = self.key().await?;
        if sealed.len() < NONCE_LEN {
            return Ok(None);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Crypto("bad nonce length".into()))?;
        let mut in_out = ciphertext.to_vec();
        Ok(key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out).ok().map(|plain| plain.to_vec()))
    }

    async fn key(&self) -> Result<&LessSafeKey> {
        self.key
            .get_or_try_init(|| async {
                let bytes = keys::load_or_create(&self.db, PURPOSE, || {
                    let mut secret = vec![0u8; AES_256_GCM.key_len()];
                    OsRng.fill_bytes(&mut secret);
                    Ok(GeneratedKey {
                        key_id: hex::encode(&Sha256::digest(&secret)[..12]),
                        algorithm: "A256GCM",
                        secret,
                    })
                })
                .await?;
                let key = UnboundKey::new(&AES_256_GCM, &bytes)
                    .map_err(|_| Error::Crypto("the stored sealing key has the wrong length".into()))?;
                Ok(LessSafeKey::new(key))
            })
            .await
    }
}
