//! The dashboard's signed actor assertion: when `ledgerd` has the identity service's Ed25519
//! public key (`--dashboard-assertion-key`), a dashboard call must carry, in
//! `x-actor-assertion`, a short-lived JWT (EdDSA) the identity service signed for the user in
//! `x-actor-id`. A leaked dashboard token alone then acts as no one.

use std::path::Path;

use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ledger_domain::UserId;
use serde::Deserialize;

use crate::error::AppError;

/// The longest an assertion may live, from `iat` to `exp`: a stolen one is soon useless.
pub const MAX_LIFETIME_S: u64 = 300;

/// Clock difference tolerated between the identity service and `ledgerd`, in seconds.
const LEEWAY_S: u64 = 30;

/// The claims an assertion must carry.
#[derive(Debug, Deserialize)]
struct Claims {
    /// The acting user: must equal `x-actor-id`.
    sub: String,
    /// When it was issued (seconds since the epoch).
    iat: u64,
    /// When it expires (seconds since the epoch).
    exp: u64,
}

/// Checks dashboard actor assertions against the identity service's public key.
pub struct AssertionCheck {
    key: DecodingKey,
    validation: Validation,
}

impl AssertionCheck {
    /// Reads the public key (PEM, `-----BEGIN PUBLIC KEY-----`) from `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let key = DecodingKey::from_ed_pem(&pem)
            .with_context(|| format!("{}: not an Ed25519 public key (PEM)", path.display()))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_S;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Self { key, validation })
    }

    /// Accepts `assertion` for `user`: signed by the key, for `user`, not expired, issued not
    /// in the future, and living at most [`MAX_LIFETIME_S`].
    pub fn verify(
        &self,
        assertion: Option<&str>,
        user: UserId,
        now_s: u64,
    ) -> Result<(), AppError> {
        let assertion = assertion.ok_or(AppError::Unauthenticated(
            "dashboard calls need x-actor-assertion: a JWT the identity service signed",
        ))?;
        let claims = jsonwebtoken::decode::<Claims>(assertion, &self.key, &self.validation)
            .map_err(|_| AppError::Unauthenticated("x-actor-assertion is not valid"))?
            .claims;
        if UserId::parse(&claims.sub).ok() != Some(user) {
            return Err(AppError::Unauthenticated(
                "x-actor-assertion is for another user than x-actor-id",
            ));
        }
        if claims.iat > now_s + LEEWAY_S || claims.exp.saturating_sub(claims.iat) > MAX_LIFETIME_S {
            return Err(AppError::Unauthenticated(
                "x-actor-assertion must be issued now and live at most 300 s",
            ));
        }
        Ok(())
    }
}
