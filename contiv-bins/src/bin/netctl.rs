//! `netctl`: the command line client of netmaster (see
//! [`contiv_bins::netctl`]).

fn main() -> std::process::ExitCode {
    contiv_bins::netctl::main()
}
