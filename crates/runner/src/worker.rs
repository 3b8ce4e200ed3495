//! Worker names: what a picker records in a job's `picked_by`, so an operator can find the
//! process that holds a job.

/// The host's name from the kernel (Linux), the `HOSTNAME` variable, or `unknown-host`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// `configured`, or `{hostname}-{pid}`.
pub fn worker_name(configured: Option<&str>) -> String {
    match configured {
        Some(name) => name.to_owned(),
        None => format!("{}-{}", hostname(), std::process::id()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_name_wins_and_the_default_names_the_process() {
        assert_eq!(worker_name(Some("prover-7")), "prover-7");
        let default = worker_name(None);
        assert!(
            default.ends_with(&format!("-{}", std::process::id())),
            "{default}"
        );
        assert!(!hostname().is_empty());
    }
}
