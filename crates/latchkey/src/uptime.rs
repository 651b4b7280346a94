//! The server's sign of life in the store, every [`EVERY`]: the next start after a crash or a
//! stop reads the last one and records the time in between as an outage, during which no grace
//! period runs (`latchkey_domain::policy::outage`).

use latchkey_application::Clock;
use latchkey_storage::Store;
use std::sync::Arc;
use std::time::Duration;

/// How often a running server says it is alive. An outage is counted from the last heartbeat,
/// so it may look up to this much longer than it was.
pub const EVERY: Duration = Duration::from_secs(2);

pub fn spawn(store: Arc<dyn Store>, clock: Arc<dyn Clock>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = store.heartbeat(clock.now()).await {
                tracing::warn!(error = %e, "cannot record the server's heartbeat");
            }
        }
    });
}
