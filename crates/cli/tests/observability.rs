//! The metric tables of docs/operations.md ("Metrics per component") against the components'
//! own documents and the metric names defined in code, the checker the fleet test applies to
//! real `/metrics` pages, and the Prometheus configuration the fleet test derives from
//! `deploy/prometheus/prometheus.yml`. No service needed; the real pages are checked in
//! `fleet.rs`.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod metrics_docs;
mod prometheus;

use std::collections::{BTreeMap, BTreeSet};

use metrics_docs::{defined_in_source, documented_in, families, for_component, COMPONENTS};

/// The names of the families titled `titles`.
fn names(titles: &[&str]) -> BTreeSet<String> {
    let families = families();
    titles
        .iter()
        .flat_map(|title| {
            families
                .iter()
                .find(|f| f.title == *title)
                .unwrap_or_else(|| panic!("docs/operations.md has no table \"#### {title}\""))
                .metrics
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_metric_tables_match_the_component_docs_and_the_code() {
    // (families, a document whose metric tables list exactly their names, a source file whose
    // `pub const` names are exactly theirs)
    let cases: [(&[&str], Option<&str>, Option<&str>); 10] = [
        (
            &["Witness generator"],
            Some("docs/witness-generator.md"),
            Some("crates/witness-generator/src/metrics.rs"),
        ),
        (
            &["Circuit prover"],
            Some("docs/circuit-prover.md"),
            Some("crates/circuit-prover/src/metrics.rs"),
        ),
        (
            &["Compressor"],
            Some("docs/compressor.md"),
            Some("crates/compressor/src/metrics.rs"),
        ),
        (
            &["Job monitor"],
            None,
            Some("crates/job-monitor/src/metrics.rs"),
        ),
        (
            &["Job monitor", "Periodic tasks"],
            Some("docs/job-monitor.md"),
            None,
        ),
        (
            &["Gateway"],
            Some("docs/gateway.md"),
            Some("crates/gateway/src/metrics.rs"),
        ),
        (
            &["Job runner", "Periodic tasks"],
            None,
            Some("crates/runner/src/metrics.rs"),
        ),
        (
            &["Sequencer"],
            Some("docs/sequencer.md"),
            Some("crates/sequencer/src/metrics.rs"),
        ),
        (&["Object store"], None, Some("crates/store/src/store.rs")),
        (
            &["Job runner", "Periodic tasks", "Object store"],
            Some("docs/store-and-runner.md"),
            None,
        ),
    ];
    let mut checked = BTreeSet::new();
    for (titles, doc, source) in cases {
        let listed = names(titles);
        checked.extend(titles.iter().map(|t| (*t).to_owned()));
        if let Some(doc) = doc {
            assert_eq!(
                documented_in(doc),
                listed,
                "the metric tables of {doc} and docs/operations.md's {titles:?} differ"
            );
        }
        if let Some(source) = source {
            assert_eq!(
                defined_in_source(source),
                listed,
                "the metric names defined in {source} and docs/operations.md's {titles:?} differ"
            );
        }
    }
    let all: BTreeSet<String> = families().into_iter().map(|f| f.title).collect();
    assert_eq!(
        checked, all,
        "every table of docs/operations.md is checked against a document or the code"
    );
}

#[test]
fn every_component_has_documented_metrics_and_the_issue_series() {
    for component in COMPONENTS {
        assert!(
            !for_component(component).is_empty(),
            "docs/operations.md lists no metric for {component}"
        );
    }
    // Issue #6's series, with the labels it asks for.
    let monitor = for_component("job-monitor");
    let prover = for_component("circuit-prover");
    let labels = |m: &BTreeMap<String, metrics_docs::Metric>, name: &str| {
        m.get(name)
            .unwrap_or_else(|| panic!("{name} is not documented"))
            .labels
            .clone()
    };
    let queue = labels(&monitor, "zkfleet_prover_jobs");
    for label in ["round", "circuit", "status"] {
        assert!(queue.contains(label), "queue sizes by {label}");
    }
    let durations = labels(&prover, "zkfleet_prove_seconds");
    assert!(durations.contains("round") && durations.contains("circuit"));
    assert!(labels(&prover, "zkfleet_prover_jobs_total").contains("outcome"));
    for name in [
        "zkfleet_jobs_at_max_attempts",
        "zkfleet_attempts_exhausted_jobs",
        "zkfleet_exhausted_jobs_total",
    ] {
        assert!(monitor.contains_key(name), "{name}");
    }
    let worker = for_component("witness-generator");
    for name in [
        "zkfleet_store_bytes_total",
        "zkfleet_store_request_seconds",
        "zkfleet_runner_picker_idle_seconds",
    ] {
        assert!(worker.contains_key(name), "{name}");
    }
}

/// A page as the exporter would write it for every metric documented for `component`.
fn page_as_documented(component: &str) -> String {
    let mut text = String::new();
    for (name, metric) in for_component(component) {
        text.push_str(&format!("# TYPE {name} {}\n", metric.kind));
        let labels: Vec<String> = metric
            .labels
            .iter()
            .map(|l| format!("{l}=\"v,\\\"{l}\\\"\""))
            .collect();
        let body = labels.join(",");
        if metric.kind == "summary" {
            let with_quantile = if body.is_empty() {
                "quantile=\"0.5\"".to_owned()
            } else {
                format!("{body},quantile=\"0.5\"")
            };
            text.push_str(&format!("{name}{{{with_quantile}}} 1.5\n"));
            text.push_str(&format!(
                "{name}_sum{{{body}}} 3\n{name}_count{{{body}}} 2\n"
            ));
        } else if body.is_empty() {
            text.push_str(&format!("{name} 0\n"));
        } else {
            text.push_str(&format!("{name}{{{body}}} 0\n"));
        }
    }
    text
}

#[test]
fn the_page_check_finds_missing_mislabelled_and_undocumented_series() {
    for component in COMPONENTS {
        let page = page_as_documented(component);
        assert_eq!(
            metrics_docs::check_page(component, &page),
            Vec::<String>::new(),
            "{page}"
        );
    }
    let good = page_as_documented("compressor");
    // A documented metric missing.
    let missing: String = good
        .lines()
        .filter(|l| !l.contains("zkfleet_final_proof_bytes"))
        .map(|l| format!("{l}\n"))
        .collect();
    let problems = metrics_docs::check_page("compressor", &missing);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("zkfleet_final_proof_bytes is not on the page"));
    // Another label set.
    let relabelled = good.replace("{outcome=", "{result=");
    let problems = metrics_docs::check_page("compressor", &relabelled);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("zkfleet_compression_jobs_total has labels"));
    // Another type.
    let retyped = good.replace(
        "# TYPE zkfleet_compression_jobs_total counter",
        "# TYPE zkfleet_compression_jobs_total gauge",
    );
    let problems = metrics_docs::check_page("compressor", &retyped);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("is a gauge, documented as a counter"));
    // A series no table lists for the component (the monitor's, on the compressor's page).
    let extra = format!("{good}# TYPE zkfleet_prover_jobs gauge\nzkfleet_prover_jobs 1\n");
    let problems = metrics_docs::check_page("compressor", &extra);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("zkfleet_prover_jobs is on the page"));
}

#[test]
fn the_scrape_config_is_derived_from_the_deploy_file() {
    let targets: BTreeMap<String, Vec<String>> = prometheus::JOBS
        .iter()
        .enumerate()
        .map(|(i, (_, job, _))| {
            (
                (*job).to_owned(),
                vec![format!("127.0.0.1:{}", 41000 + i), "10.0.0.9:1".to_owned()],
            )
        })
        .collect();
    let config = prometheus::scrape_config(&targets, "1s");
    assert!(config.contains("  scrape_interval: 1s\n"), "{config}");
    assert!(config.contains("  evaluation_interval: 1s\n"), "{config}");
    assert!(!config.contains("15s"), "{config}");
    for (job, listed) in &targets {
        let block = config
            .split("- job_name: ")
            .find(|b| b.starts_with(job.as_str()))
            .unwrap_or_else(|| panic!("no job {job}:\n{config}"));
        assert!(
            block.contains(&format!(
                "- targets: {}",
                serde_json::to_string(listed).unwrap()
            )),
            "{block}"
        );
        // The labels of the deploy file stay.
        assert!(block.contains("component: "), "{block}");
    }
    // Every default port of the deploy file is the component's default (checked inside
    // scrape_config); the defaults are distinct, so one process per kind fits on a machine.
    let defaults = prometheus::default_addresses();
    let distinct: BTreeSet<&String> = defaults.values().collect();
    assert_eq!(distinct.len(), defaults.len(), "{defaults:?}");

    // A fleet without one of the deploy file's jobs is refused.
    let mut fewer = targets.clone();
    fewer.remove("zkfleet-gateway");
    let refused = std::panic::catch_unwind(|| prometheus::scrape_config(&fewer, "1s"));
    assert!(refused.is_err());
}
