//! Recording user events: made with the request's realm, client and address, filled in by the
//! use case, counted in the metrics always and stored when the realm's event settings say so —
//! in the transaction of the change they record when there is one, else in a write of their
//! own (a refused sign-in changes nothing else).

use crate::app::App;
use crate::realms::RealmContext;
use latchkey_domain::{Event, OAuthError, UserEvent};

/// An event under way: the use case fills it in and settles it (with its change, or alone);
/// what is left unsettled when the request ends is recorded then, as a success or as the
/// request's error.
#[derive(Debug, Clone)]
pub struct Draft {
    pub event: UserEvent,
    settled: bool,
}

impl Draft {
    pub fn new(event: UserEvent) -> Draft {
        Draft {
            event,
            settled: false,
        }
    }

    pub fn detail(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.event.detail(key, value);
        self
    }

    /// The event to write with the change it records, when the realm stores it; counted now
    /// and settled.
    pub fn with_change(&mut self, app: &App, ctx: &RealmContext) -> Option<Event> {
        self.settled = true;
        app.count_event(ctx, &self.event);
        ctx.realm
            .events
            .stores(&self.event.kind)
            .then(|| Event::User(self.event.clone()))
    }

    /// Marks the event recorded by the use case itself (counted and stored its own way).
    pub fn settle(&mut self) {
        self.settled = true;
    }

    pub fn is_settled(&self) -> bool {
        self.settled
    }

    /// Records the event as a success, unless it was settled already.
    pub async fn succeed(&mut self, app: &App, ctx: &RealmContext) {
        if !self.settled {
            self.settled = true;
            app.emit(ctx, self.event.clone()).await;
        }
    }

    /// Records the event as its `_ERROR` twin with `error`'s Keycloak error string and
    /// description (`reason`) and the check that failed, unless it was settled already.
    pub async fn fail(&mut self, app: &App, ctx: &RealmContext, error: &OAuthError) {
        if self.settled {
            return;
        }
        self.settled = true;
        let mut event = self.event.clone();
        failed(&mut event, error);
        app.emit(ctx, event).await;
    }
}

/// Makes `event` the `_ERROR` twin `error` makes of it.
pub fn failed(event: &mut UserEvent, error: &OAuthError) {
    event.fail(error.event_error_str());
    event.detail("reason", error.description.clone());
    if let Some(check) = error.check {
        event.detail("check", check);
    }
}

/// Events that ride no change of their own (a refused sign-in, a client login, a userinfo
/// call), written by one task in batches: a request does not wait for its event's commit, and
/// a burst of them is one write, not one each. Reads through the admin API first wait for what
/// was handed in before them ([`App::events_flushed`]); a server that stops writes what is left.
pub struct EventQueue {
    tx: tokio::sync::mpsc::UnboundedSender<Event>,
    handed: std::sync::atomic::AtomicU64,
    written: tokio::sync::watch::Receiver<u64>,
}

/// How long the queue waits after an event for others to write with it.
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);

impl EventQueue {
    fn start(store: std::sync::Arc<dyn latchkey_storage::Store>) -> EventQueue {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        let (done, written) = tokio::sync::watch::channel(0u64);
        tokio::spawn(async move {
            let mut count = 0u64;
            while let Some(first) = rx.recv().await {
                // A moment for company: each write is a commit that reaches the disk, and a
                // busy server's events share one instead of taking one each.
                tokio::time::sleep(GATHER).await;
                let mut batch = vec![first];
                while batch.len() < 1024 {
                    match rx.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(_) => break,
                    }
                }
                count += batch.len() as u64;
                if let Err(e) = store.record_events(batch).await {
                    tracing::warn!(error = %e, "could not record events");
                }
                let _ = done.send(count);
            }
        });
        EventQueue {
            tx,
            handed: Default::default(),
            written,
        }
    }
}

impl App {
    fn event_queue(&self) -> &EventQueue {
        self.events
            .get_or_init(|| EventQueue::start(self.store.clone()))
    }

    /// Waits until every event handed to the queue before this call is written.
    pub async fn events_flushed(&self) {
        let Some(q) = self.events.get() else { return };
        let target = q.handed.load(std::sync::atomic::Ordering::SeqCst);
        let mut written = q.written.clone();
        let _ = written.wait_for(|n| *n >= target).await;
    }

    /// A new event of `kind` in this realm, timed now.
    pub fn user_event(&self, ctx: &RealmContext, kind: &str) -> UserEvent {
        UserEvent::new(self.ids.new_id(), self.clock.now_ms(), kind, &ctx.realm.id)
    }

    pub fn count_event(&self, ctx: &RealmContext, e: &UserEvent) {
        self.metrics.user_event(
            &ctx.realm.name,
            e.client_id.as_deref(),
            &e.kind,
            e.error.as_deref(),
        );
    }

    /// Counts `event` and, when the realm stores its type, hands it to the [`EventQueue`]. A
    /// store failure is logged, not answered: the request's own outcome stands.
    pub async fn emit(&self, ctx: &RealmContext, event: UserEvent) {
        self.count_event(ctx, &event);
        if ctx.realm.events.stores(&event.kind) {
            self.record_later(Event::User(event));
        }
    }

    /// Hands an event that rides no change to the [`EventQueue`].
    pub fn record_later(&self, event: Event) {
        let q = self.event_queue();
        q.handed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if q.tx.send(event).is_err() {
            tracing::warn!("the event queue has stopped; an event was not recorded");
        }
    }
}
