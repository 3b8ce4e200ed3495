//! The metric tables of docs/operations.md ("Metrics per component") as data, and the check of
//! a scraped `/metrics` page against them. Shared by `observability.rs` (docs against docs and
//! code, no service) and `fleet.rs` (docs against the pages of a real fleet).
//!
//! The tables are the single list: one table per family of series, a `Served by:` line naming
//! the components (`zkfleet` subcommands) whose page carries it, and one row per metric with
//! its Prometheus type and label names.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The components that serve `/metrics`, as their subcommands name them.
pub(crate) const COMPONENTS: [&str; 6] = [
    "witness-generator",
    "circuit-prover",
    "compressor",
    "job-monitor",
    "gateway",
    "sequencer",
];

/// The components of the fleet itself (the sequencer is the rollup's side: its page is
/// checked by the sequencer tests, not the fleet test).
pub(crate) const FLEET_COMPONENTS: [&str; 5] = [
    "witness-generator",
    "circuit-prover",
    "compressor",
    "job-monitor",
    "gateway",
];

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One documented metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Metric {
    /// `counter`, `gauge` or `summary`.
    pub(crate) kind: String,
    /// Label names; a summary's `quantile` is implied, not listed.
    pub(crate) labels: BTreeSet<String>,
}

/// One table of the section.
#[derive(Debug, Clone)]
pub(crate) struct Family {
    pub(crate) title: String,
    pub(crate) served_by: Vec<String>,
    pub(crate) metrics: BTreeMap<String, Metric>,
}

/// The backticked words of `text`.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Parses "### Metrics per component" of docs/operations.md. Panics, naming the line, on a
/// table or heading it cannot read: a malformed table must fail the tests, not shrink the list.
pub(crate) fn families() -> Vec<Family> {
    let text = read("docs/operations.md");
    let mut lines = text
        .lines()
        .skip_while(|l| *l != "### Metrics per component");
    assert!(
        lines.next().is_some(),
        "docs/operations.md has no \"### Metrics per component\" section"
    );
    let mut families: Vec<Family> = Vec::new();
    for line in lines.take_while(|l| !l.starts_with("## ") && !l.starts_with("### ")) {
        if let Some(title) = line.strip_prefix("#### ") {
            families.push(Family {
                title: title.trim().to_owned(),
                served_by: Vec::new(),
                metrics: BTreeMap::new(),
            });
            continue;
        }
        let Some(family) = families.last_mut() else {
            continue;
        };
        if let Some(rest) = line.strip_prefix("Served by:") {
            // The names end at the first parenthesis or full stop.
            let names = rest.split(['(', '.']).next().unwrap_or_default();
            family.served_by = backticked(names);
            continue;
        }
        if !line.starts_with("| `zkfleet_") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(
            cells.len(),
            3,
            "docs/operations.md: a metric row is | `name` | type | labels |: {line}"
        );
        let name = cells[0].trim_matches('`').to_owned();
        let kind = cells[1].to_owned();
        assert!(
            ["counter", "gauge", "summary"].contains(&kind.as_str()),
            "docs/operations.md: unknown type {kind:?} in {line}"
        );
        let labels: BTreeSet<String> = if cells[2] == "—" {
            BTreeSet::new()
        } else {
            backticked(cells[2]).into_iter().collect()
        };
        assert!(
            cells[2] == "—" || !labels.is_empty(),
            "docs/operations.md: labels are backticked names or —: {line}"
        );
        let previous = family.metrics.insert(name.clone(), Metric { kind, labels });
        assert!(
            previous.is_none(),
            "{name} is listed twice in {}",
            family.title
        );
    }
    for family in &families {
        assert!(
            !family.served_by.is_empty(),
            "docs/operations.md: the table {:?} has no `Served by:` line",
            family.title
        );
        for component in &family.served_by {
            assert!(
                COMPONENTS.contains(&component.as_str()),
                "docs/operations.md: {:?} is served by unknown component {component:?}",
                family.title
            );
        }
        assert!(
            !family.metrics.is_empty(),
            "docs/operations.md: the table {:?} lists no metric",
            family.title
        );
    }
    families
}

/// The family titled `title`.
pub(crate) fn family(title: &str) -> Family {
    families()
        .into_iter()
        .find(|f| f.title == title)
        .unwrap_or_else(|| panic!("docs/operations.md has no table \"#### {title}\""))
}

/// Every metric documented for `component`, over all the families it serves.
pub(crate) fn for_component(component: &str) -> BTreeMap<String, Metric> {
    let mut metrics = BTreeMap::new();
    for family in families() {
        if family.served_by.iter().any(|c| c == component) {
            for (name, metric) in family.metrics {
                let previous = metrics.insert(name.clone(), metric);
                assert!(
                    previous.is_none(),
                    "{name} is listed twice for {component} in docs/operations.md"
                );
            }
        }
    }
    metrics
}

/// One sample line of a scraped page.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// A scraped `/metrics` page: `# TYPE` lines and samples.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub(crate) types: BTreeMap<String, String>,
    pub(crate) samples: Vec<Sample>,
}

/// Parses the Prometheus text format (the subset the exporter writes: `# HELP`/`# TYPE`
/// comments, `name{label="value",…} value` samples, escaped quotes in values).
pub(crate) fn parse_page(text: &str) -> Result<Page, String> {
    let mut page = Page::default();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| format!("bad TYPE line: {line}"))?;
            page.types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("bad sample line: {line}"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| format!("bad value in: {line}"))?,
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .ok_or_else(|| format!("no closing brace: {line}"))?;
                (
                    name.to_owned(),
                    parse_labels(body).map_err(|e| format!("{e}: {line}"))?,
                )
            }
        };
        page.samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    Ok(page)
}

fn parse_labels(body: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            return Ok(labels);
        }
        if chars.next() != Some('"') {
            return Err(format!("label {name} has no quoted value"));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => return Err("dangling escape".into()),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => return Err(format!("label {name}: unterminated value")),
            }
        }
        labels.insert(name.trim_start_matches(',').to_owned(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
}

/// What is wrong with `component`'s page against the documentation: a documented metric
/// missing, of another type or with other labels; a `zkfleet_` metric on the page that no
/// table lists for the component. Empty when the page is as documented.
pub(crate) fn check_page(component: &str, text: &str) -> Vec<String> {
    let documented = for_component(component);
    assert!(!documented.is_empty(), "nothing documented for {component}");
    let page = match parse_page(text) {
        Ok(page) => page,
        Err(e) => return vec![format!("{component}: unparseable /metrics: {e}")],
    };
    let mut problems = Vec::new();
    for (name, metric) in &documented {
        match page.types.get(name) {
            None => {
                problems.push(format!("{component}: {name} is not on the page"));
                continue;
            }
            Some(kind) if *kind != metric.kind => problems.push(format!(
                "{component}: {name} is a {kind}, documented as a {}",
                metric.kind
            )),
            Some(_) => {}
        }
        // A summary's samples are `name{…,quantile}`, `name_sum{…}` and `name_count{…}`.
        let samples: Vec<&Sample> = page
            .samples
            .iter()
            .filter(|s| {
                s.name == *name
                    || (metric.kind == "summary"
                        && (s.name == format!("{name}_sum") || s.name == format!("{name}_count")))
            })
            .collect();
        if samples.is_empty() {
            problems.push(format!("{component}: {name} has a TYPE line but no sample"));
        }
        for sample in samples {
            let labels: BTreeSet<String> = sample
                .labels
                .keys()
                .filter(|l| !(metric.kind == "summary" && *l == "quantile"))
                .cloned()
                .collect();
            if labels != metric.labels {
                problems.push(format!(
                    "{component}: {} has labels {labels:?}, documented {:?}",
                    sample.name, metric.labels
                ));
                break;
            }
        }
    }
    for name in page.types.keys() {
        if name.starts_with("zkfleet_") && !documented.contains_key(name) {
            problems.push(format!(
                "{component}: {name} is on the page but docs/operations.md lists it for no \
                 family {component} serves"
            ));
        }
    }
    problems
}

/// The `zkfleet_…` names of `pub const NAME: &str = "zkfleet_…";` lines of a source file.
pub(crate) fn defined_in_source(relative: &str) -> BTreeSet<String> {
    read(relative)
        .lines()
        .filter(|l| l.trim_start().starts_with("pub const ") && l.contains("&str"))
        .filter_map(|l| l.split('"').nth(1))
        .filter(|name| name.starts_with("zkfleet_"))
        .map(str::to_owned)
        .collect()
}

/// The metric names in the first column of the tables of a docs file.
pub(crate) fn documented_in(relative: &str) -> BTreeSet<String> {
    read(relative)
        .lines()
        .filter(|l| l.starts_with("| `zkfleet_"))
        .filter_map(|l| backticked(l).into_iter().next())
        .collect()
}
