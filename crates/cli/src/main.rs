//! sdcookie: work in progress.

fn main() {
    eprintln!("sdcookie: not built yet");
    std::process::exit(2);
}
