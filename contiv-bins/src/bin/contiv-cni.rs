//! `contiv-cni`: the CNI plugin. All logic lives in `contiv_bins::cni`;
//! this reads the environment and stdin, prints the outcome and exits.

use std::io::{Read, Write};

fn main() -> std::process::ExitCode {
    let mut stdin = Vec::new();
    let command = std::env::var("CNI_COMMAND").unwrap_or_default();
    // VERSION may come without a configuration on stdin.
    if let Err(e) = std::io::stdin().read_to_end(&mut stdin)
        && command != "VERSION"
    {
        let err = contiv_bins::cni::CniError::new(
            contiv_bins::cni::error::IO_FAILURE,
            "cannot read the network configuration from stdin",
            e.to_string(),
        );
        println!("{}", err.to_json("1.0.0"));
        return std::process::ExitCode::from(1);
    }
    let out = contiv_bins::cni::run(&|k| std::env::var(k).ok(), &stdin);
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(out.stdout.as_bytes());
    let _ = so.flush();
    std::process::ExitCode::from(u8::try_from(out.code).unwrap_or(1))
}
