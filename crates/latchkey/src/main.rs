//! The `latchkey` binary: command line, configuration and start-up.

mod admin_cli;
mod bootstrap;
mod cli;
mod explain;
mod export;
mod import;
mod purge;
mod serve;
mod sessions;

use clap::Parser;

/// mimalloc instead of glibc's malloc: token minting is many small short-lived allocations
/// (claims, JSON, base64), and glibc's per-thread arenas kept freed argon2 buffers resident.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its index in mimalloc.h's `mi_option_e`; the crate
/// names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // Give freed memory back to the OS at once rather than after a second: a password hash
    // borrows 19 MiB for a moment, and an idle server should not keep it.
    // SAFETY: sets a process-wide allocator option; no memory is touched.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tokio_postgres=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("latchkey: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
