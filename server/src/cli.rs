//! The command line: `berth serve`, `berth config` and the operator's
//! `berth storage verify` and `berth admin reset-password`, with one flag
//! per configuration key (see
//! [`crate::config::KEYS`]).

use std::{collections::BTreeMap, path::PathBuf};

use clap::{Arg, ArgMatches, Command};

use crate::config::{self, Config, KEYS, Sources};

/// What the command line asked for.
pub enum Invocation {
    /// Run the registry and portal.
    Serve(Config),
    /// Print the effective configuration and exit.
    ShowConfig(Config),
    /// Re-hash every stored blob; quarantine mismatched content when asked.
    VerifyStorage { config: Config, quarantine: bool },
    /// Set a database account's password without signing in.
    ResetPassword { config: Config, username: String, password_from_stdin: bool },
}

pub fn command() -> Command {
    let settings: Vec<Arg> = KEYS
        .iter()
        .map(|key| {
            Arg::new(key.name)
                .long(key.flag)
                .value_name(key.name.to_uppercase())
                .help(format!("{} [env: {}]", key.help, key.env))
        })
        .collect();
    let config_file = Arg::new("config")
        .long("config")
        .short('c')
        .value_name("FILE")
        .value_parser(clap::value_parser!(PathBuf))
        .help("TOML configuration file; keys as in berth.example.toml [env: BERTH_CONFIG] [default: berth.toml if present]");
    Command::new("berth")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Berth: an OCI artifact registry with a web portal, in one process")
        .long_about(
            "Berth: an OCI artifact registry with a web portal, in one process.\n\n\
             Every setting can come from the configuration file, a BERTH_* environment variable or a flag; \
             flags override the environment, which overrides the file.",
        )
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("serve")
                .about("Run the registry API, the token service and the portal")
                .arg(config_file.clone())
                .args(settings.clone()),
        )
        .subcommand(
            Command::new("config")
                .about("Print the effective configuration (secrets redacted) and where each value came from")
                .arg(config_file.clone())
                .args(settings.clone()),
        )
        .subcommand(
            Command::new("admin")
                .about("Operator commands on the server's own database")
                .subcommand_required(true)
                .subcommand(
                    Command::new("reset-password")
                        .about(
                            "Set a database account's password (for an operator who lost the admin password): \
                         prints a generated one unless --password-stdin; ends the account's portal sessions; \
                         audited. Works whether Berth is running or not.",
                        )
                        .arg(Arg::new("username").required(true).value_name("USER"))
                        .arg(
                            Arg::new("password-stdin")
                                .long("password-stdin")
                                .action(clap::ArgAction::SetTrue)
                                .help("Read the new password from standard input instead of generating one"),
                        )
                        .arg(config_file.clone())
                        .args(settings.clone()),
                ),
        )
        .subcommand(
            Command::new("storage").about("Check the blob store").subcommand_required(true).subcommand(
                Command::new("verify")
                    .about(
                        "Re-hash every stored blob and report content that is missing or no longer matches its \
                         digest; exits 1 when anything is wrong. Safe while Berth serves.",
                    )
                    .arg(
                        Arg::new("quarantine")
                            .long("quarantine")
                            .action(clap::ArgAction::SetTrue)
                            .help("Move mismatched content aside so it is never served again"),
                    )
                    .arg(config_file)
                    .args(settings),
            ),
        )
}

/// Parses `args` (including the program name) against the real environment.
pub fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Invocation, CliError> {
    let matches = command().try_get_matches_from(args).map_err(CliError::Usage)?;
    let (name, sub) = matches.subcommand().expect("a subcommand is required");
    if name == "admin" {
        let (_, reset) = sub.subcommand().expect("an admin subcommand is required");
        let config = load(reset, |var| std::env::var(var).ok())?;
        let username = reset.get_one::<String>("username").cloned().unwrap_or_default();
        return Ok(Invocation::ResetPassword {
            config,
            username,
            password_from_stdin: reset.get_flag("password-stdin"),
        });
    }
    if name == "storage" {
        let (_, verify) = sub.subcommand().expect("a storage subcommand is required");
        let config = load(verify, |var| std::env::var(var).ok())?;
        return Ok(Invocation::VerifyStorage { config, quarantine: verify.get_flag("quarantine") });
    }
    let config = load(sub, |var| std::env::var(var).ok())?;
    Ok(match name {
        "config" => Invocation::ShowConfig(config),
        _ => Invocation::Serve(config),
    })
}

fn load(matches: &ArgMatches, env: impl Fn(&str) -> Option<String>) -> Result<Config, config::Error> {
    let flags: BTreeMap<&'static str, String> = KEYS
        .iter()
        .filter_map(|key| matches.get_one::<String>(key.name).map(|value| (key.name, value.clone())))
        .collect();
    let explicit = matches.get_one::<PathBuf>("config").cloned().or_else(|| env("BERTH_CONFIG").map(PathBuf::from));
    let file = match explicit {
        Some(path) => Some(path),
        None => Some(PathBuf::from("berth.toml")).filter(|p| p.is_file()),
    };
    Sources::gather(file.as_deref(), &env, &flags)?.resolve(env("LEPTOS_SITE_ROOT"))
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Usage(clap::Error),
    #[error(transparent)]
    Config(#[from] config::Error),
}
