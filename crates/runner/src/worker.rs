//! Worker names: what a picker records in a job's `picked_by`, so an operator can find the
//! process that holds a job. Every component names itself the same way: the configured name,
//! or `component@host-pid` (`circuit-prover@prover-3-4711`), so one `picked_by` tells which
//! kind of process on which host holds the job.

/// The host's name from the kernel (Linux), the `HOSTNAME` variable, or `unknown-host`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// `configured`, or `{component}@{hostname}-{pid}`.
pub fn worker_name(component: &str, configured: Option<&str>) -> String {
    match configured {
        Some(name) => name.to_owned(),
        None => format!("{component}@{}-{}", hostname(), std::process::id()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_name_wins_and_the_default_names_the_component_and_the_process() {
        assert_eq!(worker_name("circuit-prover", Some("prover-7")), "prover-7");
        let default = worker_name("circuit-prover", None);
        assert_eq!(
            default,
            format!("circuit-prover@{}-{}", hostname(), std::process::id())
        );
        assert!(!hostname().is_empty());
    }
}
