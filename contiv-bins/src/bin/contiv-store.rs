//! `contiv-store`: store maintenance (`copy SRC DST`); see
//! [`contiv_bins::storetool`].

fn main() -> std::process::ExitCode {
    contiv_bins::storetool::main()
}
