//! `sockbox help [TOPIC]`: the address grammar, or a command's help.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, HelpArgs};

pub fn run(args: HelpArgs) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    match args.topic.as_deref() {
        None => cmd.print_long_help()?,
        Some("addresses" | "address" | "addr") => {
            std::io::stdout().write_all(sockbox_net::addr::HELP.as_bytes())?
        }
        Some("compat") => {
            std::io::stdout().write_all(sockbox_net::compat::doc::markdown().as_bytes())?
        }
        Some(name) => match cmd.find_subcommand_mut(name) {
            Some(sub) => sub.print_long_help()?,
            None => {
                return Err(sockbox_net::Error::Usage(format!(
                    "no help on '{name}': try `sockbox help addresses`, `sockbox help compat` or a command name"
                ))
                .into())
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
