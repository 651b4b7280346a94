//! The `latchkey` binary: command line, configuration and start-up.

mod admin_cli;
mod backup_cli;
mod bootstrap;
mod cli;
mod config_file;
mod events_cli;
mod explain;
mod export;
mod health;
mod import;
mod key_rotation;
mod keys_cli;
mod limits;
mod model_cli;
mod purge;
mod scope_cli;
mod serve;
mod sessions;
mod settings;
mod store;
mod table;
mod uptime;

use clap::Parser;

/// mimalloc instead of glibc's malloc: token minting is many small short-lived allocations
/// (claims, JSON, base64), and glibc's per-thread arenas kept freed argon2 buffers resident.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its index in mimalloc.h's `mi_option_e`; the crate
/// names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc's `mi_option_arena_max_object_size` (its index in `mi_option_e`, libmimalloc-sys
/// 0.1.49 / mimalloc 3; the crate names no constant for it).
const MI_OPTION_ARENA_MAX_OBJECT_SIZE: libmimalloc_sys::mi_option_t = 45;

/// Objects above this size (KiB) come straight from the OS and go straight back when freed,
/// whatever the purge delay: argon2's working memory, which the password pool keeps only
/// while logins queue, leaves the process the moment the last of them is done (with
/// mimalloc's default an idle server kept it after a single login).
const LARGEST_ARENA_OBJECT_KIB: std::ffi::c_long = 4 * 1024;

/// How long mimalloc keeps a freed page before giving it back to the OS (milliseconds).
/// At 0 every page a request emptied went back at once and the next request faulted it in
/// again, a visible share of the core in the kernel's fault path; mimalloc's own default
/// keeps pages across the requests of a burst (docs/performance.md has the measurements).
/// Big objects do not wait for it (see [`LARGEST_ARENA_OBJECT_KIB`]).
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// No transparent huge pages for this process. mimalloc is built without its `madvise`
/// for them (libmimalloc-sys's `no_thp` feature): with it, each first touch of its arena
/// faulted in a huge page, and an idle server held several times its live objects in heap.
/// On a kernel whose THP mode is `always` rather than
/// `madvise`, this switches them off for every page faulted in from here on.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// A command whose output goes to `head` or `grep -q` ends quietly when the reader is gone,
/// as command-line tools do, instead of panicking on the failed write. (The server keeps
/// Rust's default: a closed connection is an error on that connection, never the process.)
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal; no handler runs our code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> std::process::ExitCode {
    // SAFETY: sets a process-wide allocator option; no memory is touched.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    // SAFETY: as above.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_MAX_OBJECT_SIZE, LARGEST_ARENA_OBJECT_KIB)
    };
    no_transparent_huge_pages();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let config = match config_file::apply(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("latchkey: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let cli = cli::Cli::parse_from(args);
    if !matches!(cli.command, cli::Command::Serve(_)) {
        quiet_on_closed_pipe();
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .map(|f| f.add_directive("tokio_postgres=warn".parse().expect("a valid directive")))
        .map(|f| {
            if cli.http_access_log_enabled {
                f
            } else {
                f.add_directive("latchkey::access=off".parse().expect("a valid directive"))
            }
        })
        .unwrap_or_else(|e| {
            eprintln!(
                "latchkey: --log / LATCHKEY_LOG '{}': {e}; logging at info",
                cli.log
            );
            tracing_subscriber::EnvFilter::new("info,tokio_postgres=warn")
        });
    // Lines are written by a thread of their own (a request does not wait for the write to
    // standard error); none is dropped, and what is queued is written before the process ends.
    let (writer, _flush_at_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if cli.log_format == "json" {
        log.json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init();
    } else {
        log.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    // The gateway on a single core runs everything on one thread: a multi-threaded runtime
    // with its one worker costs it a fifth of its requests (wakeups and handoffs between the
    // worker and the thread waiting for it; 22k vs 27k requests/s, docs/performance.md).
    let one_core = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut builder = if one_core && matches!(cli.command, cli::Command::Gateway(_)) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let rt = builder
        .enable_all()
        // Room for a debug build's larger futures; a release build uses a fraction of it.
        .thread_stack_size(8 * 1024 * 1024)
        .build()
        .expect("tokio runtime");
    match rt.block_on(cli::run(cli, config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("latchkey: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
