//! The README's settings reference, written from the command-line definition itself, so that
//! the two cannot drift apart (a test compares them).

/// The commands whose settings the reference lists.
const COMMANDS: [&str; 2] = ["serve", "gateway"];

/// Markdown tables of every flag and environment variable of each command in [`COMMANDS`] of
/// the command line `cli`.
pub fn reference(cli: &clap::Command) -> String {
    let mut cli = cli.clone();
    cli.build();
    let mut out = String::new();
    for name in COMMANDS {
        let cmd = cli
            .find_subcommand(name)
            .expect("every listed command exists");
        out.push_str(&format!("`latchkey {name}`:\n\n"));
        out.push_str("| flag | environment | default | meaning |\n|---|---|---|---|\n");
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let value = arg
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| format!(" {v}"))
                .unwrap_or_default();
            let takes_value = arg.get_num_args().is_none_or(|n| n.takes_values());
            let flag = format!(
                "`--{long}{}`",
                if takes_value { value } else { String::new() }
            );
            let env = arg
                .get_env()
                .map(|e| format!("`{}`", e.to_string_lossy()))
                .unwrap_or_default();
            let default: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| format!("`{}`", v.to_string_lossy()))
                .collect();
            let help = arg
                .get_long_help()
                .or(arg.get_help())
                .map(|h| {
                    h.to_string()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default()
                .replace('|', "\\|");
            out.push_str(&format!(
                "| {flag} | {env} | {} | {help} |\n",
                if default.is_empty() {
                    "—".to_string()
                } else {
                    default.join(", ")
                }
            ));
        }
        out.push('\n');
    }
    out.trim_end().to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Start and end markers of the generated block in README.md.
    const BEGIN: &str =
        "<!-- settings: written by `latchkey settings-reference`; a test keeps it current -->";
    const END: &str = "<!-- end of settings -->";

    #[test]
    fn readme_lists_every_setting_as_the_cli_defines_it() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find(BEGIN)
            .expect("README.md has the settings block's start marker")
            + BEGIN.len();
        let end = readme[start..]
            .find(END)
            .expect("README.md has the settings block's end marker")
            + start;
        let written = readme[start..end].trim();
        let want = reference(&crate::cli::Cli::command());
        assert_eq!(
            written,
            want.trim(),
            "README.md's settings reference is stale: replace the block between its markers with the output of `cargo run -q -- settings-reference`"
        );
    }

    #[test]
    fn every_serve_setting_has_an_environment_variable() {
        let cli = crate::cli::Cli::command();
        let serve = cli.find_subcommand("serve").unwrap();
        for arg in serve
            .get_arguments()
            .filter(|a| a.get_long().is_some_and(|l| l != "help"))
        {
            assert!(
                arg.get_env().is_some(),
                "--{} has no environment variable",
                arg.get_long().unwrap()
            );
        }
    }
}
