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
        // The test runner sets these for this test package. Build scripts (ring's, through
        // cc) ask cargo to rerun when they change, so passing them on would rebuild ring and
        // everything above it here, and again in the next `cargo nextest run`.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_MANIFEST_")
                || name.starts_with("CARGO_BIN_")
                || matches!(
                    &*name,
                    "CARGO_CRATE_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_TARGET_TMPDIR"
                        | "OUT_DIR"
                )
            {
                build.env_remove(&*name);
            }
        }
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
