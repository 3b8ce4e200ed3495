//! Keeps `deploy/` from rotting: the Grafana dashboard parses and queries only metrics that are
//! both documented (a table row of `docs/*.md`) and emitted (a string literal in some crate's
//! `src/`); every metric the job monitor defines is documented in `docs/job-monitor.md`; the
//! Prometheus configuration scrapes the monitor on its default port. No service is needed.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use zkfleet_job_monitor::MonitorConfig;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every `zkfleet_…` metric name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("zkfleet_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        // Not the tail of a longer identifier (`my_zkfleet_x`).
        let preceded_by_ident = rest[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !preceded_by_ident {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// Metric names in the tables of `docs/*.md` (a row's backticked names), with the file.
fn documented_metrics() -> BTreeMap<String, String> {
    let mut documented = BTreeMap::new();
    let docs = repo_root().join("docs");
    let mut files: Vec<_> = std::fs::read_dir(&docs)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", docs.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for line in read(&path)
            .lines()
            .filter(|l| l.trim_start().starts_with('|'))
        {
            for cell in line.split('`').skip(1).step_by(2) {
                if cell.starts_with("zkfleet_") && metric_names(cell).contains(cell) {
                    documented.entry(cell.to_owned()).or_insert(file.clone());
                }
            }
        }
    }
    documented
}

/// Metric names written as string literals (`"zkfleet_…"`) in the crates' sources.
fn emitted_metrics() -> BTreeSet<String> {
    fn walk(dir: &Path, found: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = read(&path);
                for piece in text.split('"').skip(1).step_by(2) {
                    if piece.starts_with("zkfleet_") && metric_names(piece).contains(piece) {
                        found.insert(piece.to_owned());
                    }
                }
            }
        }
    }
    let mut found = BTreeSet::new();
    let crates = repo_root().join("crates");
    for entry in std::fs::read_dir(&crates).unwrap().flatten() {
        walk(&entry.path().join("src"), &mut found);
    }
    found
}

/// The series a Prometheus summary or histogram adds to its name.
const SERIES_SUFFIXES: [&str; 3] = ["_sum", "_count", "_bucket"];

/// The metric a queried series belongs to: `x_sum` is `x`'s when `x` is a known metric.
fn metric_of(series: &str, known: &BTreeMap<String, String>) -> String {
    if known.contains_key(series) {
        return series.to_owned();
    }
    SERIES_SUFFIXES
        .iter()
        .find_map(|suffix| series.strip_suffix(suffix))
        .filter(|base| known.contains_key(*base))
        .unwrap_or(series)
        .to_owned()
}

fn dashboard() -> Value {
    let path = repo_root().join("deploy/grafana/zkfleet-dashboard.json");
    serde_json::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// Every panel's PromQL expressions, by panel title.
fn queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_default().to_owned();
            queries.push((panel["title"].as_str().unwrap_or("?").to_owned(), expr));
        }
    }
    queries
}

#[test]
fn the_dashboard_is_a_grafana_dashboard() {
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "zkfleet-fleet");
    assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 30));
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(
        variables
            .iter()
            .any(|v| v["name"] == "datasource" && v["type"] == "datasource"),
        "the dashboard lets the user pick the Prometheus data source"
    );
    let panels = dashboard["panels"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    for panel in panels {
        let title = panel["title"].as_str().expect("every panel has a title");
        assert!(
            ids.insert(panel["id"].as_u64().expect("numeric panel id")),
            "duplicate panel id in {title}"
        );
        let grid = &panel["gridPos"];
        let (x, w) = (grid["x"].as_u64().unwrap(), grid["w"].as_u64().unwrap());
        assert!(x + w <= 24, "panel {title} is wider than the grid");
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {title} queries nothing");
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_default();
            assert!(!expr.is_empty(), "panel {title} has an empty query");
            assert_eq!(
                expr.matches('(').count(),
                expr.matches(')').count(),
                "unbalanced parentheses in {title}: {expr}"
            );
            assert_eq!(
                expr.matches('{').count(),
                expr.matches('}').count(),
                "unbalanced braces in {title}: {expr}"
            );
        }
    }
    // What the dashboard is for (issue #6): queue depth per round, jobs by status, oldest
    // unproven batch, proving time per round/circuit, proofs per second, object-store bytes and
    // latency, attempts and terminal failures.
    let queried: BTreeSet<String> = queries(&dashboard)
        .iter()
        .flat_map(|(_, expr)| metric_names(expr))
        .collect();
    for needed in [
        "zkfleet_prover_jobs",
        "zkfleet_jobs",
        "zkfleet_oldest_unproven_batch",
        "zkfleet_oldest_unproven_batch_age_seconds",
        "zkfleet_prove_seconds_sum",
        "zkfleet_prover_jobs_total",
        "zkfleet_store_bytes_total",
        "zkfleet_store_request_seconds_sum",
        "zkfleet_jobs_at_max_attempts",
        "zkfleet_attempts_exhausted_jobs",
    ] {
        assert!(queried.contains(needed), "the dashboard lacks {needed}");
    }
}

#[test]
fn the_dashboard_queries_only_documented_emitted_metrics() {
    let documented = documented_metrics();
    let emitted = emitted_metrics();
    assert!(
        documented.len() >= 30 && emitted.len() >= 30,
        "the scan found too little ({} documented, {} emitted): did docs/ or crates/ move?",
        documented.len(),
        emitted.len()
    );
    let mut undocumented = Vec::new();
    let mut not_emitted = Vec::new();
    for (title, expr) in queries(&dashboard()) {
        for series in metric_names(&expr) {
            let metric = metric_of(&series, &documented);
            if !documented.contains_key(&metric) {
                undocumented.push(format!("{metric} (panel {title:?})"));
            }
            if !emitted.contains(&metric) {
                not_emitted.push(format!("{metric} (panel {title:?})"));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "the dashboard queries metrics no docs/*.md table documents: {undocumented:?}"
    );
    assert!(
        not_emitted.is_empty(),
        "the dashboard queries metrics no crate emits: {not_emitted:?}"
    );
}

#[test]
fn every_monitor_metric_is_documented_in_its_doc() {
    let source = read(&repo_root().join("crates/job-monitor/src/metrics.rs"));
    let defined: BTreeSet<String> = source
        .lines()
        .filter(|l| l.starts_with("pub const "))
        .flat_map(metric_names)
        .collect();
    assert!(defined.len() >= 14, "{defined:?}");
    let doc = read(&repo_root().join("docs/job-monitor.md"));
    let table_rows: Vec<&str> = doc
        .lines()
        .filter(|l| l.starts_with("| `zkfleet_"))
        .collect();
    for metric in &defined {
        assert!(
            table_rows
                .iter()
                .any(|row| row.starts_with(&format!("| `{metric}` |"))),
            "{metric} (crates/job-monitor/src/metrics.rs) has no row in docs/job-monitor.md"
        );
    }
}

#[test]
fn prometheus_scrapes_every_component_and_the_monitor_on_its_port() {
    let text = read(&repo_root().join("deploy/prometheus/prometheus.yml"));
    for job in [
        "zkfleet-job-monitor",
        "zkfleet-gateway",
        "zkfleet-witness-generator",
        "zkfleet-circuit-prover",
        "zkfleet-compressor",
    ] {
        assert!(
            text.contains(&format!("- job_name: {job}\n")),
            "prometheus.yml does not scrape {job}"
        );
    }
    let port = MonitorConfig::default().listen_address.port();
    let monitor = text
        .split("- job_name: ")
        .find(|job| job.starts_with("zkfleet-job-monitor"))
        .unwrap();
    assert!(
        monitor.contains(&format!(":{port}\"]")),
        "the job monitor's scrape target is not on its default port {port}: {monitor}"
    );
}

#[test]
fn metric_names_are_found_in_promql() {
    let names = metric_names(
        r#"sum by (round) (rate(zkfleet_prove_seconds_sum[5m])) / x{a="zkfleet_no"} my_zkfleet_x"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["zkfleet_no", "zkfleet_prove_seconds_sum"]
    );
    let known = BTreeMap::from([("zkfleet_prove_seconds".to_owned(), "x.md".to_owned())]);
    assert_eq!(
        metric_of("zkfleet_prove_seconds_count", &known),
        "zkfleet_prove_seconds"
    );
    assert_eq!(metric_of("zkfleet_other_sum", &known), "zkfleet_other_sum");
}
