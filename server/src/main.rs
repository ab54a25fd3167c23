//! `berth`: parse the command line, then serve or print the configuration.

use std::{io::Write, process::ExitCode};

use server::{AdminBootstrap, cli};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let invocation = match cli::parse(std::env::args_os()) {
        Ok(invocation) => invocation,
        Err(cli::CliError::Usage(error)) => error.exit(),
        Err(error) => {
            eprintln!("berth: {error}");
            return ExitCode::from(2);
        }
    };
    let config = match invocation {
        cli::Invocation::ShowConfig(config) => {
            print!("{}", config.describe());
            return ExitCode::SUCCESS;
        }
        cli::Invocation::Serve(config) => config,
        cli::Invocation::VerifyStorage { config, quarantine } => return verify_storage(&config, quarantine),
        cli::Invocation::ResetPassword { config, username, password_from_stdin } => {
            return reset_password(&config, &username, password_from_stdin);
        }
    };
    server::telemetry::init(&config);
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "berth stopped");
            eprintln!("berth: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `berth storage verify`: the report on stdout; exit 1 when anything is wrong.
fn verify_storage(config: &server::config::Config, quarantine: bool) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    match runtime.block_on(server::admin::verify_storage(config, quarantine)) {
        Ok(report) => {
            print!("{}", server::admin::describe(&report));
            if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(error) => {
            eprintln!("berth: {error}");
            ExitCode::from(2)
        }
    }
}

/// `berth admin reset-password USER`: prints the new password when it generated one.
fn reset_password(config: &server::config::Config, username: &str, from_stdin: bool) -> ExitCode {
    let password = if from_stdin {
        let mut line = String::new();
        if let Err(error) = std::io::stdin().read_line(&mut line) {
            eprintln!("berth: cannot read the password from standard input: {error}");
            return ExitCode::from(2);
        }
        Some(line.trim_end_matches(['\r', '\n']).to_owned())
    } else {
        None
    };
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    match runtime.block_on(server::admin::reset_password(config, username, password.clone())) {
        Ok(set) => {
            if password.is_none() {
                println!("new password for {username}: {set}");
            } else {
                println!("password for {username} changed");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("berth: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: server::config::Config) -> Result<(), server::Error> {
    let listener = server::bind(&config)?;
    let berth = server::build_app(&config).await?;
    announce(&config, &berth.admin);
    server::serve(&config, berth, listener, server::shutdown_signal()).await
}

/// The lines a person starting Berth needs: where it is and how to sign in.
fn announce(config: &server::config::Config, admin: &AdminBootstrap) {
    let mut out = std::io::stdout().lock();
    match admin {
        AdminBootstrap::CreatedWithGeneratedPassword(password) => {
            let _ = writeln!(out, "First start: created the administrator account.");
            let _ = writeln!(out, "  username: admin");
            let _ = writeln!(out, "  password: {password}");
            let _ = writeln!(out, "This password is shown only once: keep it somewhere safe.");
        }
        AdminBootstrap::Created => {
            let _ =
                writeln!(out, "First start: created the administrator account \"admin\" with the configured password.");
        }
        AdminBootstrap::AlreadyPresent => {}
    }
    // Clients are sent to the token service at the external URL: a wildcard
    // address there would send them to themselves.
    if matches!(config.external_url.host_str(), Some("0.0.0.0" | "[::]")) {
        let _ = writeln!(
            out,
            "Warning: set external_url to the address clients use; registry logins are sent to {}service/token.",
            config.external_url
        );
    }
    // Last, so whoever waits for this line has seen the credentials too.
    let _ = writeln!(out, "Berth {} is listening on {}", env!("CARGO_PKG_VERSION"), config.external_url);
    let _ = out.flush();
}
