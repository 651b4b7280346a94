//! The HTTP listener of latchkey's server and gateway: accepts connections up to a limit (the
//! rest wait in the kernel's backlog), gives each client a bounded time to send its request
//! headers (a slow client cannot hold a connection forever), serves HTTP/1.1, and on shutdown
//! stops accepting and lets the requests in flight finish for a bounded time. HTTP/2 in the
//! clear (prior knowledge) is not served: hyper has no idle limit for it, so a silent HTTP/2
//! connection would hold its slot for ever. With TLS ([`tls`]) HTTP/2 is offered by ALPN, its
//! connections pinged and closed when the pings go unanswered.
//! Hyper parses HTTP, rustls speaks TLS; this only sets their limits and runs the loop.

pub mod tls;

use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// What one listener allows.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, on a new or a kept-alive connection.
    pub header_read_timeout: Duration,
    /// The most header fields hyper parses before answering 431 itself. Set it above the
    /// application's own limit, so that the application answers in its own shape.
    pub parser_max_headers: usize,
    /// The most bytes of request head hyper buffers before answering 431 itself.
    pub parser_max_head_bytes: usize,
    /// How long the requests in flight may take to finish after shutdown begins.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            parser_max_headers: 256,
            parser_max_head_bytes: 256 * 1024,
            drain: Duration::from_secs(30),
        }
    }
}

/// Serves `listener` until `shutdown` completes, then drains. `service(peer)` makes the
/// service for one connection. With `tls`, every connection is HTTPS (HTTP/2 or HTTP/1.1).
pub async fn serve<S, B>(
    listener: TcpListener,
    limits: Limits,
    service: impl Fn(SocketAddr) -> S,
    shutdown: impl Future<Output = ()>,
    tls: Option<Arc<tls::Tls>>,
) where
    S: Service<hyper::Request<Incoming>, Response = hyper::Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(limits.parser_max_headers)
        .max_buf_size(limits.parser_max_head_bytes)
        .keep_alive(true);
    // Over TLS, HTTP/2 too: a peer that stops answering pings loses its connection.
    let mut secure = auto::Builder::new(TokioExecutor::new());
    secure
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(limits.parser_max_headers)
        .max_buf_size(limits.parser_max_head_bytes)
        .keep_alive(true);
    secure
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10))
        .max_concurrent_streams(256)
        .max_header_list_size(limits.parser_max_head_bytes as u32);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
        }
        let (watcher, service) = (graceful.watcher(), service(peer));
        let first_byte = limits.header_read_timeout;
        let (plain, secure, tls) = (builder.clone(), secure.clone(), tls.clone());
        tokio::spawn(async move {
            // Hyper's header timeout runs once a request has begun; a connection that sends
            // nothing at all would hold its slot for ever without this.
            let mut probe = [0u8; 1];
            match tokio::time::timeout(first_byte, stream.peek(&mut probe)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return, // silent, closed or failed: nothing to serve
            }
            let result = match tls {
                None => {
                    let conn = plain.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(tls) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
                    let stream =
                        match tokio::time::timeout(first_byte, acceptor.accept(stream)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        };
                    let conn = secure.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing requests in flight");
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {} s; stopping anyway",
            limits.drain.as_secs()
        );
    }
}

/// SIGTERM or SIGINT (Ctrl-C), registered when called, not when first awaited: a server calls it
/// before it binds, so a signal that arrives as soon as it answers is a clean stop and never the
/// default action that kills the process.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
                }
                _ => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
