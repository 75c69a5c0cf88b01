//! Go-style flags on top of clap.
//!
//! The original parsed flags with urfave/cli (Go's `flag` package), where a
//! flag of any length takes one or two dashes and `=` is optional:
//! `-name`, `-name=value`, `-name value`, `--name value`, `--name=value`.
//! Its documentation uses that freely (`-direction=in`, `-policy=prod_web`,
//! `-s6 2001::/100`, `-tag foo`), while clap reads a single dash as a
//! cluster of short flags (`-s6` would be `-s 6`).
//!
//! [`normalise`] rewrites the command line before clap sees it: walking the
//! tokens with the command tree, every single-dash token whose name (the
//! part before `=`) is a long name or long alias of the current command (or
//! a global flag) gets a second dash. Real short flags (`-t blue`,
//! `-p 112`, `-s 10.1.3.0/24`) are left alone, values of flags that take
//! one are never touched, and everything after `--` passes through. Boolean
//! flags also accept Go's `=true`/`=false` forms (`-json=true`).

use clap::{Arg, Command};

/// Rewrites Go-style flags of `argv` (program name first) into the forms
/// clap parses. See the module documentation.
pub fn normalise(root: &Command, argv: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut tokens = argv.into_iter();
    if let Some(program) = tokens.next() {
        out.push(program);
    }
    let mut current = root;
    let mut value_expected = false;
    let mut rest_verbatim = false;
    for tok in tokens {
        if rest_verbatim || value_expected {
            value_expected = false;
            out.push(tok);
            continue;
        }
        if tok == "--" {
            rest_verbatim = true;
            out.push(tok);
            continue;
        }
        let dashed = tok
            .strip_prefix("--")
            .map(|rest| (rest, true))
            .or_else(|| tok.strip_prefix('-').map(|rest| (rest, false)));
        match dashed {
            Some(("", _)) => out.push(tok),
            Some((rest, double)) => {
                let (name, value) = match rest.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (rest, None),
                };
                let long = if double || name.chars().count() > 1 {
                    find_long(root, current, name)
                } else {
                    None
                };
                match long {
                    Some(arg) => {
                        let (rewritten, expects) = rewrite_long(arg, name, value);
                        out.extend(rewritten);
                        value_expected = expects;
                    }
                    None => {
                        if !double && value.is_none() {
                            // `-t blue`: a short flag that takes a value
                            // consumes the next token.
                            let mut chars = name.chars();
                            if let (Some(c), None) = (chars.next(), chars.next()) {
                                value_expected = find_short(root, current, c)
                                    .is_some_and(|a| a.get_action().takes_values());
                            }
                        }
                        out.push(tok);
                    }
                }
            }
            None => {
                if let Some(sub) = current.find_subcommand(&tok) {
                    current = sub;
                }
                out.push(tok);
            }
        }
    }
    out
}

/// The `--` form of a long flag, and whether the next token is its value.
fn rewrite_long(arg: &Arg, name: &str, value: Option<&str>) -> (Vec<String>, bool) {
    let takes_value = arg.get_action().takes_values();
    match value {
        Some(v) if !takes_value => match parse_go_bool(v) {
            Some(true) => (vec![format!("--{name}")], false),
            Some(false) => (Vec::new(), false),
            // Not a boolean: leave it for clap to reject with its message.
            None => (vec![format!("--{name}={v}")], false),
        },
        Some(v) => (vec![format!("--{name}={v}")], false),
        None => (vec![format!("--{name}")], takes_value),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Long names and long aliases of `cmd`'s own arguments, then the global
/// arguments of the root (clap only copies those into subcommands when it
/// builds the tree).
fn find_long<'a>(root: &'a Command, cmd: &'a Command, name: &str) -> Option<&'a Arg> {
    let matches = |a: &&Arg| {
        a.get_long() == Some(name)
            || a.get_all_aliases()
                .is_some_and(|aliases| aliases.contains(&name))
    };
    cmd.get_arguments()
        .find(matches)
        .or_else(|| {
            root.get_arguments()
                .filter(|a| a.is_global_set())
                .find(matches)
        })
        // `-help`: clap's generated help flag is not in the list before build.
        .or_else(|| (name == "help").then(|| &*HELP_ARG))
}

fn find_short<'a>(root: &'a Command, cmd: &'a Command, c: char) -> Option<&'a Arg> {
    let matches = |a: &&Arg| {
        a.get_short() == Some(c)
            || a.get_all_short_aliases()
                .is_some_and(|aliases| aliases.contains(&c))
    };
    cmd.get_arguments().find(matches).or_else(|| {
        root.get_arguments()
            .filter(|a| a.is_global_set())
            .find(matches)
    })
}

/// Stand-in for clap's generated `--help`, so `-help` is rewritten too.
static HELP_ARG: std::sync::LazyLock<Arg> =
    std::sync::LazyLock::new(|| Arg::new("help").long("help").action(clap::ArgAction::Help));
