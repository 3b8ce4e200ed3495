//! Peak memory of this process around one piece of work, from Linux's `/proc/self`.
//!
//! `VmHWM` in `/proc/self/status` is the process's peak resident set size since it started,
//! which alone would make every job after the largest report the largest's peak. Writing `5`
//! to `/proc/self/clear_refs` (Linux ≥ 4.0) resets that peak to the current resident size, so
//! a job's peak is read as: reset, run the job, read `VmHWM`. Off Linux, or where the reset is
//! refused (some sandboxes), nothing is reported rather than a misleading figure.

use std::path::Path;

/// Resident memory during one piece of work, in MiB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryPeak {
    /// The process's peak resident size while the work ran (everything loaded included).
    pub peak_mib: f64,
    /// That peak above the resident size just before the work: what the work itself needed.
    pub above_start_mib: f64,
}

/// Runs `work` and reports its memory peak, when this system can measure it.
pub fn measure<T>(work: impl FnOnce() -> T) -> (T, Option<MemoryPeak>) {
    let start = reset_peak().then(|| status_kib("VmRSS")).flatten();
    let value = work();
    let peak = match (start, status_kib("VmHWM")) {
        (Some(start), Some(peak)) => Some(MemoryPeak {
            peak_mib: peak as f64 / 1024.0,
            above_start_mib: peak.saturating_sub(start) as f64 / 1024.0,
        }),
        _ => None,
    };
    (value, peak)
}

/// Resets the process's peak resident size; false when the system does not allow it.
fn reset_peak() -> bool {
    std::fs::write(Path::new("/proc/self/clear_refs"), "5").is_ok()
}

/// A `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_allocation_shows_in_the_peak() {
        let (len, peak) = measure(|| {
            let block = vec![1u8; 64 << 20];
            std::hint::black_box(&block).len()
        });
        assert_eq!(len, 64 << 20);
        if let Some(peak) = peak {
            assert!(peak.above_start_mib >= 60.0, "{peak:?}");
            assert!(peak.peak_mib >= peak.above_start_mib);
        } else {
            // Only where /proc/self/clear_refs is unavailable.
            assert!(!reset_peak());
        }
    }
}
