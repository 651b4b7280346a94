//! New identifiers, passed in like the clock: sessions, families and refresh tokens get
//! time-ordered UUIDs (v7), access and ID tokens random ones (v4); tests can count instead.

use std::sync::atomic::{AtomicU64, Ordering};

pub trait Ids: Send + Sync + 'static {
    /// A stored record's id (session, family, refresh token).
    fn new_id(&self) -> String;
    /// The `jti` of an access or ID token, which nothing stores.
    fn new_token_id(&self) -> String;
}

/// UUIDs: v7 for stored records (index-friendly), v4 for token ids.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidIds;

impl Ids for UuidIds {
    fn new_id(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }
    fn new_token_id(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

/// `id-1`, `id-2`, …: ids a test can predict.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl Ids for SequentialIds {
    fn new_id(&self) -> String {
        format!("id-{}", self.0.fetch_add(1, Ordering::SeqCst) + 1)
    }
    fn new_token_id(&self) -> String {
        self.new_id()
    }
}
