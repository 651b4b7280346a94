//! The limits: one core's raw rate at the signature or hash a response needs.
//!
//! Measured on its own (`--scenario limit-*`, on whatever core the process runs), or in slices
//! between slices of load (`--limit`): a thread pinned to the server's core measures while the
//! clients hold their next request and the server has nothing to do. This VM's speed drifts
//! by a third within a minute; a limit taken 2 s apart from the load it is compared with drifts
//! with it, where one taken before and after a 15 s run does not.

use latchkey_crypto::password::{self, HashParams, Scratch};
use latchkey_crypto::SigningKey;
use latchkey_domain::realm::SigningAlg;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// One RS256 signature (aws-lc-rs, key parsed once).
    Rs256,
    /// One ES256 signature.
    Es256,
    /// One argon2id verification at m=19 MiB, t=2, p=1, memory reused (as the server's pool
    /// reuses it while logins queue).
    Argon2,
}

enum Primitive {
    Sign(SigningKey),
    Argon2 {
        stored: String,
        params: HashParams,
        scratch: Scratch,
    },
}

impl Primitive {
    fn new(kind: Kind) -> Primitive {
        match kind {
            Kind::Rs256 | Kind::Es256 => {
                let alg = if kind == Kind::Rs256 {
                    SigningAlg::RS256
                } else {
                    SigningAlg::ES256
                };
                Primitive::Sign(SigningKey::generate(alg).expect("key").0)
            }
            Kind::Argon2 => {
                let params = HashParams::default();
                Primitive::Argon2 {
                    stored: password::hash("bench-password", params).expect("hash"),
                    params,
                    scratch: Scratch::default(),
                }
            }
        }
    }

    /// Runs the primitive over and over for `d`: how many times, in how many seconds.
    fn run_for(&mut self, d: Duration) -> (u64, f64) {
        let start = Instant::now();
        let until = start + d;
        let msg = vec![b'x'; 600];
        let mut n: u64 = 0;
        while Instant::now() < until {
            match self {
                Primitive::Sign(key) => {
                    for _ in 0..16 {
                        std::hint::black_box(key.sign(&msg).expect("sign"));
                    }
                    n += 16;
                }
                Primitive::Argon2 {
                    stored,
                    params,
                    scratch,
                } => {
                    let v = password::verify_with(scratch, "bench-password", stored, *params);
                    std::hint::black_box(v.expect("verify"));
                    n += 1;
                }
            }
        }
        (n, start.elapsed().as_secs_f64())
    }
}

/// The rate of `kind` on this thread over `seconds`.
pub fn standalone(kind: Kind, seconds: u64) -> f64 {
    let (n, secs) = Primitive::new(kind).run_for(Duration::from_secs(seconds));
    n as f64 / secs
}

type Request = (Duration, tokio::sync::oneshot::Sender<(u64, f64)>);

/// A thread on one core that measures `kind` for as long as it is asked, each time it is asked.
pub struct Pinned {
    asks: std::sync::mpsc::Sender<Request>,
}

impl Pinned {
    /// Starts the thread, pinned to `core`, and prepares the primitive there (a key generated,
    /// a hash stored) before it answers its first request.
    pub fn start(kind: Kind, core: usize) -> Result<Pinned, String> {
        let (asks, requests) = std::sync::mpsc::channel::<Request>();
        let (ready, started) = std::sync::mpsc::channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name("limit".into())
            .spawn(move || {
                if let Err(e) = pin_to(core) {
                    let _ = ready.send(Err(e));
                    return;
                }
                let mut primitive = Primitive::new(kind);
                let _ = ready.send(Ok(()));
                for (d, answer) in requests {
                    let _ = answer.send(primitive.run_for(d));
                }
            })
            .map_err(|e| format!("cannot start the limit thread: {e}"))?;
        started
            .recv()
            .map_err(|_| "the limit thread stopped".to_string())??;
        Ok(Pinned { asks })
    }

    /// Measures for `d`: how many times, in how many seconds.
    pub async fn measure(&self, d: Duration) -> (u64, f64) {
        let (answer, heard) = tokio::sync::oneshot::channel();
        if self.asks.send((d, answer)).is_err() {
            return (0, 0.0);
        }
        heard.await.unwrap_or((0, 0.0))
    }
}

fn pin_to(core: usize) -> Result<(), String> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it, and
    // sched_setaffinity(0, ..) reads it for the calling thread.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        return Err(format!(
            "cannot pin the limit thread to core {core}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pinned_thread_measures_each_time_it_is_asked() {
        let pinned = Pinned::start(Kind::Es256, 0).unwrap();
        let (n, secs) = pinned.measure(Duration::from_millis(50)).await;
        assert!(n >= 16, "{n} signatures");
        assert!((0.05..1.0).contains(&secs), "{secs} s");
        // Measured again on request, from the same prepared key.
        let (m, _) = pinned.measure(Duration::from_millis(10)).await;
        assert!(m >= 16);
    }

    #[test]
    fn a_core_that_does_not_exist_is_an_error() {
        let e = Pinned::start(Kind::Es256, 1023)
            .err()
            .expect("no core 1023");
        assert!(e.contains("core 1023"), "{e}");
    }
}
