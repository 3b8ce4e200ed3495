//! What the figures were measured on: cores, CPU model, load, and the code's commit.

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

/// The commit this binary was built from (`git rev-parse --short HEAD` when it was compiled),
/// noting when the measured crates (the benchmark and the crates it drives) differed from it.
/// `build.rs` records it, so an edit after the build does not change what a report says.
pub(crate) fn git_commit() -> String {
    env!("ZKFLEET_BENCH_COMMIT").to_owned()
}

/// Now, as reports print it: `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string()
}
