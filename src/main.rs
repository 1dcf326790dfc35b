use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    musav::backend::keep_freed_memory();
    let cli = musav::cli::Cli::parse();
    match musav::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`musav stats | head`) is not a failure.
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("musav: {e:#}");
            ExitCode::FAILURE
        }
    }
}
