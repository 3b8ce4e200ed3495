//! What the figures were measured on: cores, CPU model, load, and the code's commit.

use std::path::Path;
use std::process::Command;

use crate::report::MachineInfo;

/// The machine now; `load_average_after` is filled in when the benchmark ends.
pub(crate) fn machine_info() -> MachineInfo {
    let load = load_average();
    MachineInfo {
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model: cpu_model(),
        load_average_before: load.clone(),
        load_average_after: load,
    }
}

/// `/proc/loadavg`'s 1, 5 and 15-minute load averages ("unknown" off Linux).
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `git rev-parse --short HEAD` of the workspace this crate was built from, noting when the
/// measured code (the benchmark and the crates it drives) differs from the commit.
pub(crate) fn git_commit() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(commit) = git(crate_dir, &["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_owned();
    };
    // Every crate a suite drives: the orchestration benchmark's, and the proving path's.
    let measured = [
        "../bench",
        "../dal",
        "../store",
        "../runner",
        "../types",
        "../circuits",
        "../rollup",
        "../witness-generator",
        "../circuit-prover",
        "../compressor",
        "../cli",
    ];
    let mut args = vec!["status", "--porcelain", "--"];
    args.extend(measured);
    match git(crate_dir, &args) {
        Some(changes) if !changes.is_empty() => {
            format!("{commit}+uncommitted changes to the measured crates")
        }
        _ => commit,
    }
}

/// Now, as reports print it: `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string()
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
