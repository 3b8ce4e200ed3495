//! The real Prometheus server (Debian's `prometheus` package) for the fleet test: a scrape
//! configuration derived from `deploy/prometheus/prometheus.yml`, the server as a child process
//! on a free loopback port with its own storage directory, and its HTTP query API.
//!
//! The binary is `ZKFLEET_TEST_PROMETHEUS` if set, else `prometheus` on the `PATH`; without one
//! the test fails (never skips) saying how to install it.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::metrics_docs;

pub(crate) const BINARY_VAR: &str = "ZKFLEET_TEST_PROMETHEUS";

/// The deploy file's scrape job of each component, and where the component's default metrics
/// address is configured in `crates/cli/zkfleet.example.toml` (section, field).
pub(crate) const JOBS: [(&str, &str, (&str, &str)); 5] = [
    (
        "job-monitor",
        "zkfleet-job-monitor",
        ("monitor", "listen_address"),
    ),
    ("gateway", "zkfleet-gateway", ("metrics", "gateway")),
    (
        "witness-generator",
        "zkfleet-witness-generator",
        ("metrics", "witness_generator"),
    ),
    (
        "circuit-prover",
        "zkfleet-circuit-prover",
        ("metrics", "circuit_prover"),
    ),
    (
        "compressor",
        "zkfleet-compressor",
        ("metrics", "compressor"),
    ),
];

/// The Prometheus binary to run.
pub(crate) fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os(BINARY_VAR) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{BINARY_VAR}={} is not a file",
            path.display()
        );
        return path;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("prometheus"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the Prometheus server is not installed: the fleet test scrapes the fleet with the \
                 real server. Install Debian's package (`apt-get install prometheus`; .ci/run does \
                 it) or set {BINARY_VAR} to a prometheus binary."
            )
        })
}

/// The default metrics address of each scrape job, from the example configuration (which a
/// test keeps equal to the built-in defaults).
pub(crate) fn default_addresses() -> BTreeMap<&'static str, String> {
    let example: toml::Table = metrics_docs::read("crates/cli/zkfleet.example.toml")
        .parse()
        .expect("crates/cli/zkfleet.example.toml is TOML");
    JOBS.iter()
        .map(|(_, job, (section, field))| {
            let address = example
                .get(*section)
                .and_then(|s| s.get(*field))
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| {
                    panic!("zkfleet.example.toml has no [{section}] {field} address")
                });
            (*job, address.to_owned())
        })
        .collect()
}

/// `deploy/prometheus/prometheus.yml` with its intervals set to `interval` and each job's
/// targets replaced by `targets[job]`. Fails when the deploy file does not have the shape this
/// relies on (the two intervals, one `targets` line per job), when a job's target is not the
/// component's default address, or when the file and `targets` name different jobs: a
/// deploy file that drifts from the fleet fails here rather than in production.
pub(crate) fn scrape_config(targets: &BTreeMap<String, Vec<String>>, interval: &str) -> String {
    let deploy = metrics_docs::read("deploy/prometheus/prometheus.yml");
    let defaults = default_addresses();
    let mut out = String::new();
    let mut job: Option<String> = None;
    let mut seen_jobs = Vec::new();
    let mut intervals = 0;
    for line in deploy.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(name) = trimmed.strip_prefix("- job_name: ") {
            job = Some(name.trim().to_owned());
            seen_jobs.push(name.trim().to_owned());
        }
        if let Some(key) = ["scrape_interval: ", "evaluation_interval: "]
            .iter()
            .find(|k| trimmed.starts_with(**k))
        {
            assert!(
                job.is_none(),
                "prometheus.yml: a per-job {key}would override the test's interval"
            );
            intervals += 1;
            out.push_str(&format!("{indent}{key}{interval}\n"));
            continue;
        }
        if let Some(list) = trimmed.strip_prefix("- targets: ") {
            let name = job
                .as_deref()
                .unwrap_or_else(|| panic!("prometheus.yml: targets outside a job: {line}"));
            let listed: Vec<String> = serde_json::from_str(list).unwrap_or_else(|e| {
                panic!("prometheus.yml: {name}'s targets are not a flow list ({e}): {line}")
            });
            let default = defaults
                .get(name)
                .unwrap_or_else(|| panic!("prometheus.yml scrapes an unknown job {name}"));
            assert_eq!(
                listed,
                std::slice::from_ref(default),
                "prometheus.yml: {name}'s target is not the component's default address"
            );
            let given = targets
                .get(name)
                .unwrap_or_else(|| panic!("no targets given for the deploy file's job {name}"));
            out.push_str(&format!(
                "{indent}- targets: {}\n",
                serde_json::to_string(given).expect("json")
            ));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    assert_eq!(
        intervals, 2,
        "prometheus.yml: expected global scrape_interval and evaluation_interval"
    );
    let mut expected: Vec<String> = targets.keys().cloned().collect();
    seen_jobs.sort();
    expected.sort();
    assert_eq!(
        seen_jobs, expected,
        "prometheus.yml's jobs are not the fleet's components"
    );
    out
}

/// A running Prometheus server; killed on drop.
pub(crate) struct Prometheus {
    child: Child,
    pub(crate) port: u16,
    dir: PathBuf,
    runtime: tokio::runtime::Runtime,
}

/// One element of an instant-vector answer.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

impl Prometheus {
    /// Writes `config` to `dir/prometheus.yml`, checks it with the server itself (a config it
    /// cannot load makes it exit), starts it on `port` with storage in `dir/data`, and waits
    /// until it is ready.
    pub(crate) fn start(binary: &Path, dir: &Path, config: &str, port: u16) -> Self {
        std::fs::create_dir_all(dir).expect("prometheus dir");
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("prometheus log");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut server = Self {
            child,
            port,
            dir: dir.to_owned(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(exit)) = server.child.try_wait() {
                panic!("prometheus exited ({exit}) at start:\n{}", server.log());
            }
            if server
                .get("/-/ready")
                .is_ok_and(|(status, _)| status == 200)
            {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready after 120 s:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    fn get(&self, path_and_query: &str) -> Result<(u16, String), reqwest::Error> {
        let url = format!("http://127.0.0.1:{}{path_and_query}", self.port);
        self.runtime.block_on(async {
            let response = reqwest::get(url).await?;
            let status = response.status().as_u16();
            Ok((status, response.text().await?))
        })
    }

    /// `GET /api/v1/query?query=PROMQL`: the instant vector it answers.
    pub(crate) fn query(&self, promql: &str) -> Vec<Sample> {
        let (status, body) = self
            .get(&format!("/api/v1/query?query={}", percent_encode(promql)))
            .unwrap_or_else(|e| panic!("querying prometheus for {promql}: {e}"));
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("prometheus answered {status} non-JSON ({e}): {body}"));
        assert_eq!(
            (status, json["status"].as_str()),
            (200, Some("success")),
            "query {promql}: {body}"
        );
        assert_eq!(json["data"]["resultType"], "vector", "{body}");
        json["data"]["result"]
            .as_array()
            .expect("result array")
            .iter()
            .map(|r| Sample {
                labels: serde_json::from_value(r["metric"].clone()).expect("labels"),
                value: r["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("no value in {r}")),
            })
            .collect()
    }

    /// Queries until `accept` holds for the answer (scrapes and the monitor's report run on
    /// their own clocks); fails with the last answer and the server's log past `timeout`.
    pub(crate) fn query_until(
        &self,
        promql: &str,
        timeout: Duration,
        accept: impl Fn(&[Sample]) -> bool,
    ) -> Vec<Sample> {
        let deadline = Instant::now() + timeout;
        loop {
            let answer = self.query(promql);
            if accept(&answer) {
                return answer;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus: {promql} still answers {answer:#?} after {timeout:?}\n{}",
                self.log()
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// RFC 3986 percent-encoding of a query value (PromQL has braces, quotes, brackets, spaces).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
