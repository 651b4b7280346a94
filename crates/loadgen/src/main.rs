//! `latchkey-loadgen`: drives a token endpoint with N concurrent clients for a fixed time and
//! reports requests/s, p50/p99 latency and errors as one JSON line.
//!
//! Scenarios:
//! - `client-credentials`: each client asks for a token with client_credentials.
//! - `refresh`: each client first gets its own refresh token (password grant, or one line of
//!   `--token-file` each), then walks its own chain: every response's refresh token is the
//!   next request's. With rotation on, every request is one durable rotation.
//! - `password`: each client logs in with the password grant over and over.
//!
//! With `--limit`, the load pauses every `--limit-every` ms: the clients hold their next
//! request, the server finishes what it has, and a thread on `--limit-core` (the server's)
//! measures the limit for `--limit-for` ms (see [`interleave`] and [`limit`]). Requests/s are
//! over the time under load only.

mod interleave;
mod limit;

use interleave::{interleave, Gate};

use base64::Engine;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
enum Scenario {
    ClientCredentials,
    Refresh,
    Password,
    /// Not a load: the raw per-core rate of one RS256 signature (aws-lc-rs, key parsed once).
    LimitRs256,
    /// The raw per-core rate of one ES256 signature.
    LimitEs256,
    /// The raw per-core rate of one argon2id verification at m=19 MiB, t=2, p=1.
    LimitArgon2,
}

#[derive(Parser, Debug, Clone)]
struct Args {
    /// Token endpoint URL.
    #[arg(long, default_value = "")]
    url: String,
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Concurrent clients (one connection each).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds of load after warm-up.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    #[arg(long, default_value = "")]
    client_id: String,
    /// Client secret (sent with HTTP Basic); omit for a public client.
    #[arg(long)]
    client_secret: Option<String>,
    #[arg(long, default_value = "")]
    username: String,
    #[arg(long, default_value = "")]
    password: String,
    #[arg(long)]
    scope: Option<String>,
    /// File of refresh tokens, one per line (the peer's pool); one per client.
    #[arg(long)]
    token_file: Option<std::path::PathBuf>,
    /// Worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seconds of load before measuring (not counted).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Keep the load generator's thread polling instead of sleeping between responses.
    #[arg(long)]
    spin: bool,
    /// Measure this limit between slices of load, on `--limit-core`.
    #[arg(long, value_enum)]
    limit: Option<Scenario>,
    /// The core the limit is measured on: the server's.
    #[arg(long, default_value_t = 0)]
    limit_core: usize,
    /// Milliseconds of load between two limit slices.
    #[arg(long, default_value_t = 2000)]
    limit_every: u64,
    /// Milliseconds of each limit slice.
    #[arg(long, default_value_t = 500)]
    limit_for: u64,
}

impl Scenario {
    fn limit_kind(self) -> Option<limit::Kind> {
        match self {
            Scenario::LimitRs256 => Some(limit::Kind::Rs256),
            Scenario::LimitEs256 => Some(limit::Kind::Es256),
            Scenario::LimitArgon2 => Some(limit::Kind::Argon2),
            _ => None,
        }
    }
}

type Conn = SendRequest<Full<Bytes>>;

struct Ctx {
    args: Args,
    auth: Option<String>,
    uri: hyper::Uri,
    host: String,
    addr: String,
}

fn enc(s: &str) -> String {
    form_encode(s)
}

fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Ctx {
    fn form(&self, grant: &str, extra: &[(&str, &str)]) -> String {
        let mut f = format!("grant_type={grant}");
        if self.auth.is_none() {
            f.push_str(&format!("&client_id={}", enc(&self.args.client_id)));
        }
        if let Some(s) = &self.args.scope {
            f.push_str(&format!("&scope={}", enc(s)));
        }
        for (k, v) in extra {
            f.push_str(&format!("&{k}={}", enc(v)));
        }
        f
    }

    /// One keep-alive HTTP/1.1 connection of one client.
    async fn connect(&self) -> Result<Conn, String> {
        let tcp = tokio::net::TcpStream::connect(&self.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", self.addr))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(send)
    }

    async fn post(&self, conn: &mut Conn, body: String) -> Result<(u16, Bytes), String> {
        conn.ready().await.map_err(|e| e.to_string())?;
        let mut req = Request::post(self.uri.path())
            .header("host", self.host.as_str())
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(a) = &self.auth {
            req = req.header("authorization", a.as_str());
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = conn.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    }
}

fn refresh_token_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("refresh_token")?.as_str().map(str::to_string)
}

#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latencies_us: Vec<u32>,
}

async fn run_client(
    ctx: Arc<Ctx>,
    gate: Arc<Gate>,
    mut token: Option<String>,
    measure_from: Instant,
    until: Instant,
) -> Tally {
    let mut t = Tally {
        latencies_us: Vec::with_capacity(1 << 16),
        ..Default::default()
    };
    let mut conn = None;
    while Instant::now() < until {
        let body = match ctx.args.scenario {
            Scenario::ClientCredentials => ctx.form("client_credentials", &[]),
            Scenario::Password => ctx.form(
                "password",
                &[
                    ("username", &ctx.args.username),
                    ("password", &ctx.args.password),
                ],
            ),
            Scenario::Refresh => ctx.form(
                "refresh_token",
                &[("refresh_token", token.as_deref().unwrap_or(""))],
            ),
            _ => unreachable!("limit scenarios send no requests"),
        };
        gate.enter().await;
        let start = Instant::now();
        if start >= until {
            gate.leave();
            break;
        }
        let counted = start >= measure_from;
        let res = match conn.as_mut() {
            Some(c) => ctx.post(c, body).await,
            None => match ctx.connect().await {
                Ok(mut c) => {
                    let r = ctx.post(&mut c, body).await;
                    conn = Some(c);
                    r
                }
                Err(e) => Err(e),
            },
        };
        gate.leave();
        if res.is_err() {
            conn = None; // reconnect on the next request
        }
        let us = start.elapsed().as_micros().min(u32::MAX as u128) as u32;
        match res {
            Ok((200, body)) => {
                if counted {
                    t.ok += 1;
                    t.latencies_us.push(us);
                }
                if ctx.args.scenario == Scenario::Refresh {
                    match refresh_token_of(&body) {
                        Some(next) => token = Some(next),
                        None => {
                            t.errors += 1;
                            t.first_error
                                .get_or_insert_with(|| "no refresh_token in response".into());
                            break;
                        }
                    }
                }
            }
            Ok((status, body)) => {
                t.errors += 1;
                t.first_error
                    .get_or_insert_with(|| format!("{status}: {}", String::from_utf8_lossy(&body)));
                if ctx.args.scenario == Scenario::Refresh {
                    break; // this client's chain is gone
                }
            }
            Err(e) => {
                t.errors += 1;
                t.first_error.get_or_insert(e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    t
}

/// `x` to one decimal, as the report prints rates.
fn tenths(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx] as f64 / 1000.0
}

async fn main_async(args: Args) -> Result<(), String> {
    let auth = args.client_secret.as_ref().map(|s| {
        let raw = format!("{}:{}", enc(&args.client_id), enc(s));
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    });
    let uri: hyper::Uri = args.url.parse().map_err(|e| format!("--url: {e}"))?;
    let host = uri
        .authority()
        .ok_or("--url needs a host")?
        .as_str()
        .to_string();
    let addr = if uri.port().is_some() {
        host.clone()
    } else {
        format!("{host}:80")
    };
    let ctx = Arc::new(Ctx {
        args: args.clone(),
        auth,
        uri,
        host,
        addr,
    });

    // Each client's starting refresh token.
    let mut tokens: Vec<Option<String>> = vec![None; args.clients];
    if args.scenario == Scenario::Refresh {
        if let Some(file) = &args.token_file {
            let text =
                std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
            let pool: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
            if pool.len() < args.clients {
                return Err(format!(
                    "{} holds {} tokens; need {}",
                    file.display(),
                    pool.len(),
                    args.clients
                ));
            }
            for (i, t) in tokens.iter_mut().enumerate() {
                *t = Some(pool[i].to_string());
            }
        } else {
            let mut conn = ctx.connect().await?;
            for t in tokens.iter_mut() {
                let body = ctx.form(
                    "password",
                    &[("username", &args.username), ("password", &args.password)],
                );
                let (status, body) = ctx.post(&mut conn, body).await?;
                if status != 200 {
                    return Err(format!(
                        "login failed: {status} {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                *t = Some(refresh_token_of(&body).ok_or("login response has no refresh_token")?);
            }
        }
    }
    // Prepared before the load starts: an RSA key takes a while to generate.
    let pinned = match args.limit.map(|l| (l, l.limit_kind())) {
        None => None,
        Some((_, Some(kind))) => Some(limit::Pinned::start(kind, args.limit_core)?),
        Some((l, None)) => return Err(format!("--limit {l:?} is not a limit scenario")),
    };
    let gate = Arc::new(Gate::new());
    let measure_from = Instant::now() + Duration::from_secs(args.warmup);
    let until = measure_from + Duration::from_secs(args.duration);
    if args.spin {
        tokio::spawn(async move {
            while Instant::now() < until {
                tokio::task::yield_now().await;
            }
        });
    }
    let handles: Vec<_> = tokens
        .into_iter()
        .map(|t| {
            tokio::spawn(run_client(
                ctx.clone(),
                gate.clone(),
                t,
                measure_from,
                until,
            ))
        })
        .collect();
    let interleaved = match &pinned {
        Some(p) => Some(
            interleave(
                &gate,
                p,
                measure_from,
                until,
                Duration::from_millis(args.limit_every),
                Duration::from_millis(args.limit_for),
            )
            .await,
        ),
        None => None,
    };
    let mut all = Tally::default();
    for h in handles {
        let t = h.await.map_err(|e| e.to_string())?;
        all.ok += t.ok;
        all.errors += t.errors;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
        all.latencies_us.extend(t.latencies_us);
    }
    let elapsed = interleaved
        .as_ref()
        .map_or(args.duration as f64, |i| i.load_secs);
    all.latencies_us.sort_unstable();
    let mut report = serde_json::json!({
        "scenario": format!("{:?}", args.scenario),
        "clients": args.clients,
        "seconds": (elapsed * 100.0).round() / 100.0,
        "requests": all.ok,
        "errors": all.errors,
        "first_error": all.first_error,
        "rps": tenths(all.ok as f64 / elapsed),
        "p50_ms": percentile(&all.latencies_us, 0.50),
        "p99_ms": percentile(&all.latencies_us, 0.99),
    });
    if let (Some(i), Some(l)) = (&interleaved, args.limit) {
        report["limit"] = serde_json::json!({
            "scenario": format!("{l:?}"),
            "per_second": tenths(i.ops as f64 / i.limit_secs.max(1e-9)),
            "seconds": (i.limit_secs * 100.0).round() / 100.0,
        });
    }
    println!("{report}");
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(kind) = args.scenario.limit_kind() {
        let rate = limit::standalone(kind, args.duration);
        println!(
            "{}",
            serde_json::json!({"scenario": format!("{:?}", args.scenario), "per_second": tenths(rate)})
        );
        return std::process::ExitCode::SUCCESS;
    }
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("runtime");
    match rt.block_on(main_async(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latchkey-loadgen: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
