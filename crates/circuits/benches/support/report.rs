//! What every circuits benchmark records about the machine, and how it replaces its own
//! section of docs/benchmarks.md (between `<!-- BEGIN name -->` and `<!-- END name -->`).

#![allow(dead_code)] // Each bench uses its own subset.

use serde_json::{json, Value};

/// CPU, cores, commit and the load average at start (a shared machine inflates every time).
pub(crate) fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    json!({
        "load_average_at_start": load,
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "commit": commit,
    })
}

/// Replaces the body between the section's markers; appends the section under `heading` when
/// the markers are absent.
pub(crate) fn write_section(path: &std::path::Path, name: &str, heading: &str, body: &str) {
    let begin = format!("<!-- BEGIN {name} -->");
    let end = format!("<!-- END {name} -->");
    let text = std::fs::read_to_string(path).expect("read docs/benchmarks.md");
    let updated = match (text.find(&begin), text.find(&end)) {
        (Some(start), Some(stop)) => format!(
            "{}{begin}\n{}\n{end}{}",
            &text[..start],
            body.trim(),
            &text[stop + end.len()..]
        ),
        _ => format!(
            "{}\n## {heading}\n\n{begin}\n{}\n{end}\n",
            text.trim_end(),
            body.trim()
        ),
    };
    std::fs::write(path, updated).expect("write docs/benchmarks.md");
}
