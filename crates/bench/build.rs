//! Records, at build time, which commit the benchmark binary measures.
//!
//! Reading the commit when the benchmark runs would describe the worktree as it is then, not the
//! code that was compiled: an edit after the build would mark a clean binary "uncommitted", and a
//! commit after the build would credit the binary with code it does not contain. The build
//! script reruns when a measured crate's sources or the checked-out commit change, so the
//! recorded value follows what cargo compiles.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every crate a suite drives: the orchestration benchmark's, and the proving path's.
const MEASURED: [&str; 11] = [
    "bench",
    "dal",
    "store",
    "runner",
    "types",
    "circuits",
    "rollup",
    "witness-generator",
    "circuit-prover",
    "compressor",
    "cli",
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let crates_dir = manifest_dir.parent().unwrap_or(&manifest_dir).to_path_buf();
    for name in MEASURED {
        println!("cargo:rerun-if-changed={}", crates_dir.join(name).display());
    }
    // A new commit moves the branch's ref (or HEAD itself, when detached or switched).
    if let Some(git_dir) = git(&manifest_dir, &["rev-parse", "--absolute-git-dir"]) {
        let git_dir = PathBuf::from(git_dir);
        let mut watched = vec![git_dir.join("HEAD"), git_dir.join("packed-refs")];
        if let Some(branch) = git(&manifest_dir, &["symbolic-ref", "-q", "HEAD"]) {
            watched.push(git_dir.join(branch));
        }
        // A watched path that does not exist would make cargo rerun the script on every build.
        for path in watched.iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    println!(
        "cargo:rustc-env=ZKFLEET_BENCH_COMMIT={}",
        commit(&manifest_dir, &crates_dir)
    );
}

/// `git rev-parse --short HEAD`, noting when the measured crates differ from it.
fn commit(manifest_dir: &Path, crates_dir: &Path) -> String {
    let Some(commit) = git(manifest_dir, &["rev-parse", "--short", "HEAD"]) else {
        // Built outside a git checkout (a source tarball, say).
        return "unknown".to_owned();
    };
    let paths: Vec<String> = MEASURED
        .iter()
        .map(|name| crates_dir.join(name).display().to_string())
        .collect();
    let mut args = vec!["status", "--porcelain", "--"];
    args.extend(paths.iter().map(String::as_str));
    match git(manifest_dir, &args) {
        Some(changes) if !changes.is_empty() => {
            format!("{commit}+uncommitted changes to the measured crates")
        }
        _ => commit,
    }
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}
