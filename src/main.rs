use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = hafen::cli::Cli::parse();
    let result = actix_web::rt::System::new().block_on(hafen::cli::run(cli));
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
