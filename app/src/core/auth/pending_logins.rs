//! OIDC sign-ins between the redirect to the provider and its callback,
//! kept in the browser that started them: one cookie per sign-in, named
//! after its `state` (so several tabs may sign in at once), holding the
//! nonce, the PKCE verifier and where to go afterwards, sealed so the
//! browser can neither read nor change them. Nothing is written to the
//! database before the user has authenticated at the provider, and a
//! callback arriving in another browser finds no cookie (login CSRF).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::sealing::SealingKey;
use crate::core::Result;

const CONTEXT: &str = "OIDC sign-in in flight";

#[derive(Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin").field("next_path", &self.next_path).finish_non_exhaustive()
    }
}

/// The cookie that carries the sign-in started with `state`.
pub fn cookie_name(state: &str) -> String {
    format!("berth_oidc_{}", &hex::encode(Sha256::digest(state.as_bytes()))[..16])
}

impl PendingLogin {
    /// The cookie value: sealed, then base64url.
    pub async fn seal(&self, key: &SealingKey) -> Result<String> {
        let json = serde_json::to_vec(self).map_err(|e| crate::core::Error::Crypto(e.to_string()))?;
        Ok(URL_SAFE_NO_PAD.encode(key.seal(CONTEXT, &json).await?))
    }

    /// The sign-in a cookie value carries; `None` if it was not sealed here.
    pub async fn open(value: &str, key: &SealingKey) -> Result<Option<Self>> {
        let Ok(sealed) = URL_SAFE_NO_PAD.decode(value) else {
            return Ok(None);
        };
        Ok(key.open(CONTEXT, &sealed).await?.and_then(|json| serde_json::from_slice(&json).ok()))
    }
}
