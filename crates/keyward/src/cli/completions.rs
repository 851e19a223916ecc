//! `keyward completions SHELL`: a completion script for bash, zsh or fish, generated
//! from the same clap definitions the program parses with, so it never falls behind.

use crate::output::{write_out, Failure};
use clap::{Args, CommandFactory, ValueEnum};

/// The shells a script can be generated for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in: bash, zsh or fish.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the script. It needs no data directory, so it runs before any is opened.
pub fn run(args: &CompletionsArgs) -> Result<(), Failure> {
    let mut command = super::Cli::command();
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    // Into memory first: clap_complete panics on a failed write, and stdout may be a
    // pipe that has closed; write_out handles that.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "keyward", &mut script);
    let script = String::from_utf8(script)
        .map_err(|e| Failure::usage(format!("the completion script is not UTF-8: {e}")))?;
    write_out(format_args!("{}", script.trim_end()));
    Ok(())
}
