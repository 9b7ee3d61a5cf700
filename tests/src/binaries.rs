//! The binaries of this build (`ledgerd`, `ledgerctl`), built first if needed: cargo builds a
//! package's binaries only for that package's own tests, and these tests live in another one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The directory holding this build's binaries, after building every binary of `ledger-api`
/// once per process (a no-op when they are up to date).
fn profile_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the running binary knows its path");
        // Tests run from target/<profile>/deps/blackbox-<hash>, the benchmark from
        // target/<profile>/ledger-bench.
        let parent = exe.parent().expect("binaries live in target/<profile>");
        let profile_dir = if parent.file_name().is_some_and(|name| name == "deps") {
            parent.parent().expect("deps lives in target/<profile>")
        } else {
            parent
        }
        .to_path_buf();
        let release = profile_dir
            .file_name()
            .is_some_and(|name| name == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "-p", "ledger-api", "--bins"]);
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building the ledger-api binaries failed");
        profile_dir
    })
}

/// The path of binary `name` of this build.
pub fn path(name: &str) -> PathBuf {
    profile_dir().join(name)
}
