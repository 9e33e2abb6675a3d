//! `sockbox help [TOPIC]`: the address grammar, a topic (`sockets`, `unix` ... in
//! `topic.rs`), or a command's help.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, HelpArgs};
use crate::cmd::topic::TOPICS;

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
        Some(name) => {
            if let Some(t) = TOPICS.iter().find(|t| t.name == name) {
                std::io::stdout().write_all(t.text.as_bytes())?;
            } else if let Some(sub) = cmd.find_subcommand_mut(name) {
                sub.print_long_help()?;
            } else {
                let topics: Vec<&str> = TOPICS.iter().map(|t| t.name).collect();
                return Err(sockbox_net::Error::Usage(format!(
                    "no help on '{name}': try `sockbox help addresses`, `sockbox help compat`, \
                     a topic ({}) or a command name",
                    topics.join(", ")
                ))
                .into());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
