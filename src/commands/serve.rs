use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::serve::state::Served;
use crate::serve::{AppState, Limits, RunSource, ServeConfig};

/// Serve a trained run as a web API (mood label, valence–arousal point, mood over time)
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  musav serve --run runs/run-001\n  \
                  musav serve --runs runs --addr 0.0.0.0:8080 --api-key \"$KEY\" --workers 4\n  \
                  curl -H 'Content-Type: audio/mpeg' --data-binary @song.mp3 http://127.0.0.1:8080/v1/predict\n\
                  With --runs the newest finished run under DIR is served, and a newer one replaces it when it\n\
                  finishes (or on POST /v1/model/reload). The API is described at /openapi.json.")]
#[command(group(clap::ArgGroup::new("model").required(true).args(["run", "runs"])))]
pub struct Args {
    /// Run directory made by `musav train` (and `musav train-va` for VA)
    #[arg(long, value_name = "RUN_DIR")]
    pub run: Option<PathBuf>,
    /// Serve the newest finished run under DIR, and switch when a newer one finishes
    #[arg(long, value_name = "DIR")]
    pub runs: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Require `Authorization: Bearer KEY` on /v1/ routes
    #[arg(
        long,
        env = "MUSAV_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
    /// Largest upload accepted (413 above)
    #[arg(long, default_value_t = 50, value_name = "MB")]
    pub max_upload_mb: u64,
    /// Longest decoded audio accepted (422 above)
    #[arg(long, default_value_t = 900.0, value_name = "S")]
    pub max_seconds: f64,
    /// Predictions run at the same time
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub workers: usize,
    /// Predictions waiting for a worker before new ones get 503
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub queue: usize,
    /// Time limit of one request (504 above)
    #[arg(long, default_value_t = 60.0, value_name = "S")]
    pub timeout_s: f64,
    /// Allow browser requests from this origin (CORS), e.g. http://localhost:3000
    #[arg(long, value_name = "ORIGIN")]
    pub cors: Option<String>,
    /// How often --runs is checked for a newer finished run
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    pub poll_s: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.workers == 0 {
        bail!("--workers must be at least 1");
    }
    // One arena per prediction at once, and one for the async side.
    crate::backend::cap_heap_arenas(args.workers + 1);
    if !(args.timeout_s.is_finite() && args.timeout_s > 0.0) {
        bail!("--timeout-s must be a positive number of seconds");
    }
    if !(args.poll_s.is_finite() && args.poll_s > 0.0) {
        bail!("--poll-s must be a positive number of seconds");
    }
    if let Some(origin) = &args.cors
        && axum::http::HeaderValue::from_str(origin).is_err()
    {
        bail!("--cors {origin:?} is not a valid origin; give one like http://localhost:3000");
    }
    if args.api_key.as_deref() == Some("") {
        bail!("--api-key (or MUSAV_API_KEY) is empty; give a key or leave it out");
    }
    let source = match (&args.run, &args.runs) {
        (Some(r), _) => RunSource::Run(r.clone()),
        (None, Some(d)) => {
            if !d.is_dir() {
                bail!("{}: no such directory (--runs)", d.display());
            }
            RunSource::Runs(d.clone())
        }
        (None, None) => bail!("give --run RUN_DIR or --runs DIR"),
    };
    let limits = Limits {
        max_upload_mb: args.max_upload_mb,
        max_seconds: args.max_seconds,
        timeout: Duration::from_secs_f64(args.timeout_s),
        workers: args.workers,
        queue: args.queue,
    };
    let state = AppState::new(limits, args.api_key.as_deref(), Some(source.clone()))
        .with_cors(args.cors.clone());
    if let RunSource::Run(dir) = &source {
        let served = Served::load(dir).with_context(|| "cannot serve the run (--run)")?;
        state.swap(served);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(args.workers + args.queue + 8)
        .build()
        .context("cannot start the async runtime")?;
    let config = ServeConfig {
        addr: args.addr,
        poll: Duration::from_secs_f64(args.poll_s),
    };
    runtime
        .block_on(crate::serve::run(Arc::new(state), config))
        .with_context(|| format!("cannot serve on {}", args.addr))?;
    eprintln!("musav serve: stopped");
    Ok(())
}
