use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = hafen::cli::Cli::parse();
    let result = actix_web::rt::System::new().block_on(hafen::cli::run(cli));
    // The runtime is gone, and with it every handle to the database writers: let them finish
    // their last jobs and close their connections before the process's exit handlers run.
    if !hafen::store::wait_for_writers(std::time::Duration::from_secs(30)) {
        tracing::warn!("the database writers did not finish within 30 s; exiting anyway");
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain, for people: "cannot open the database …: cannot connect …: <cause>".
            eprintln!("hafen: {e:#}");
            tracing::error!(error = format!("{e:#}"), "command failed");
            std::process::ExitCode::FAILURE
        }
    }
}
