//! The live status page: `/status.json` against both backends, the bearer-token protection of
//! the data endpoints, and the page itself rendered by headless Chromium against a monitor
//! serving a real PostgreSQL database.
//!
//! The browser test needs Chromium from Debian's packages (`apt-get install chromium`; CI
//! installs it in `.ci/run`). It looks for the binary in `ZKFLEET_TEST_CHROMIUM`, then for
//! `chromium`, `chromium-headless-shell` and `chromium-browser` on the `PATH`, and FAILS, naming
//! both, when there is none: the page is what operators look at, so its test never skips.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::Value;
use tokio::net::TcpListener;
use zkfleet_dal::{HeavySet, JobRef, ProverJob, ProverJobClass};
use zkfleet_job_monitor::{
    build_router, install_prometheus_recorder, serve, AuthConfig, MonitorAuth, MonitorConfig,
};
use zkfleet_runner::CancellationToken;
use zkfleet_types::CircuitId;

const CHROMIUM_VAR: &str = "ZKFLEET_TEST_CHROMIUM";
const OOM: &str = "witness vector generation ran out of memory (needed 9.1 GB, limit 8 GB)";
const WORKER: &str = "prover-gpu-2";
const TOKEN: &str = "status-page-token-0123456789";

/// A fleet caught mid-batch: batch 7 (basic witness done; of its four basic proofs one is done,
/// one failed, one in progress on `WORKER`, one queued) and batch 8, just inserted.
async fn fleet_mid_batch(db: &TestDb) -> ProverJob {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    batch_with_basic_jobs(
        dal,
        &db.store,
        7,
        V1,
        &[(CircuitId(1), 3), (CircuitId(2), 1)],
    )
    .await;
    let done = pick_prover_job(dal, V1).await.unwrap();
    prove(dal, &db.store, &done).await;
    let failed = pick_prover_job(dal, V1).await.unwrap();
    dal.fail_job(JobRef::Prover(failed.id), OOM).await.unwrap();
    dal.pick_prover_job(V1, ProverJobClass::Any, &HeavySet::default(), WORKER)
        .await
        .unwrap()
        .expect("a third basic prover job");
    insert_batch(dal, 8, V1).await;
    failed
}

async fn serve_router(router: axum::Router, cancel: CancellationToken) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await
            .unwrap();
    });
    format!("http://{address}")
}

async fn get_json(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn stage<'a>(batch: &'a Value, name: &str) -> &'a Value {
    batch["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap_or_else(|| panic!("no stage {name} in {batch}"))
}

// --- /status.json ----------------------------------------------------------------------------

async fn status_json_shows_the_fleet(db: Arc<TestDb>) {
    let failed = fleet_mid_batch(&db).await;
    let install = install_prometheus_recorder().unwrap();
    let cancel = CancellationToken::new();
    let base = serve_router(build_router(db.dal.clone(), install), cancel.clone()).await;

    let (status, json) = get_json(&format!("{base}/status.json"), None).await;
    assert_eq!(status, 200, "{json}");
    let expected_database = if db.is_postgres() {
        "postgresql"
    } else {
        "sqlite"
    };
    assert_eq!(json["database"], expected_database);

    // Batches in flight, oldest sealed first, with six stages each.
    let batches = json["batches"]["listed"].as_array().unwrap();
    let numbers: Vec<_> = batches.iter().map(|b| b["batch_number"].clone()).collect();
    assert_eq!(numbers, [7, 8]);
    assert_eq!(json["batches"]["truncated"], false);
    let b7 = &batches[0];
    assert_eq!(b7["chain_id"], 270);
    assert_eq!(b7["protocol_version"], "0.1.0");
    assert_eq!(b7["stages"].as_array().unwrap().len(), 6);
    let basic = stage(b7, "basic");
    assert_eq!(
        basic["witness_jobs"],
        serde_json::json!({"successful": 1, "in_progress": 0, "failed": 0, "total": 1})
    );
    assert_eq!(
        basic["proof_jobs"],
        serde_json::json!({"successful": 1, "in_progress": 1, "failed": 1, "total": 4})
    );
    assert_eq!(basic["all"]["successful"], 2);
    assert_eq!(basic["all"]["total"], 5);
    // Leaf jobs (one per basic circuit type) wait for their proofs; nothing compresses yet.
    assert_eq!(stage(b7, "leaf")["witness_jobs"]["total"], 2);
    assert_eq!(stage(b7, "leaf")["proof_jobs"]["total"], 0);
    assert_eq!(stage(b7, "compression")["all"]["total"], 0);
    assert!(b7["age_seconds"].as_i64().unwrap() < 60, "{b7}");
    let b8 = &batches[1];
    assert_eq!(
        stage(b8, "basic")["all"],
        serde_json::json!({"successful": 0, "in_progress": 0, "failed": 0, "total": 1})
    );

    // Queues with something queued or in progress, in proving order.
    let queues: Vec<_> = json["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["table"].as_str().unwrap().to_owned(),
                q["stage"].as_str().unwrap().to_owned(),
                q["circuit"].as_str().map(str::to_owned),
                q["queued"].as_u64().unwrap(),
                q["in_progress"].as_u64().unwrap(),
            )
        })
        .collect();
    let row = |table: &str, circuit: Option<&str>, queued, in_progress| {
        (
            table.to_owned(),
            "basic".to_owned(),
            circuit.map(str::to_owned),
            queued,
            in_progress,
        )
    };
    assert_eq!(
        queues,
        [
            row("witness_inputs", None, 1, 0),
            row("prover_jobs", Some("signature_verification"), 0, 1),
            row("prover_jobs", Some("state_transition"), 1, 0),
        ]
    );

    // The failure with its error text; the worker with its job.
    let failures = json["failures"]["listed"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["job"], format!("prover job {}", failed.id));
    assert_eq!(failures[0]["error"], OOM);
    assert_eq!(failures[0]["status"], "failed");
    assert_eq!(failures[0]["attempts"], 1);
    assert_eq!(failures[0]["batch_number"], 7);
    assert_eq!(failures[0]["circuit"], "signature_verification");
    let workers = json["workers"]["listed"].as_array().unwrap();
    assert_eq!(workers.len(), 1, "{workers:?}");
    assert_eq!(workers[0]["picked_by"], WORKER);
    assert_eq!(workers[0]["stage"], "basic");
    assert_eq!(workers[0]["sequence_number"], 2);
    assert!(workers[0]["running_seconds"].as_i64().unwrap() < 60);

    // The page is served as HTML, self-contained.
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("status.json"), "the page fetches its data");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page loads nothing from elsewhere"
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_status_json_shows_the_fleet() {
    with_postgres(status_json_shows_the_fleet).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_status_json_shows_the_fleet() {
    with_sqlite(status_json_shows_the_fleet).await;
}

/// An unreadable database is a 503 naming it, not an empty fleet.
async fn status_json_reports_an_unreadable_database(db: Arc<TestDb>) {
    let install = install_prometheus_recorder().unwrap();
    let cancel = CancellationToken::new();
    let base = serve_router(build_router(db.dal.clone(), install), cancel.clone()).await;
    db.execute_raw("DROP TABLE proof_compression_jobs").await;
    let (status, json) = get_json(&format!("{base}/status.json"), None).await;
    assert_eq!(status, 503, "{json}");
    let error = json["error"].as_str().unwrap();
    assert!(error.contains("cannot read the job database"), "{error}");
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_status_json_reports_an_unreadable_database() {
    with_postgres(status_json_reports_an_unreadable_database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_status_json_reports_an_unreadable_database() {
    with_sqlite(status_json_reports_an_unreadable_database).await;
}

// --- Tokens ----------------------------------------------------------------------------------

async fn data_endpoints_need_a_token(db: Arc<TestDb>) {
    fleet_mid_batch(&db).await;
    let auth =
        MonitorAuth::from_config(&AuthConfig::default(), Some(&format!("ops={TOKEN}"))).unwrap();
    let state = zkfleet_job_monitor::HttpState {
        dal: db.dal.clone(),
        metrics: install_prometheus_recorder().unwrap(),
        status_page: Default::default(),
    };
    let cancel = CancellationToken::new();
    let router = zkfleet_job_monitor::http::routes(&auth).with_state(state);
    let base = serve_router(router, cancel.clone()).await;

    for path in ["/status.json", "/queue_report"] {
        let url = format!("{base}{path}");
        let (status, json) = get_json(&url, None).await;
        assert_eq!(status, 401, "{path} without a token: {json}");
        assert!(json["error"].as_str().unwrap().contains("Authorization"));
        let (status, _) = get_json(&url, Some("wrong-token-wrong-token")).await;
        assert_eq!(status, 401, "{path} with a wrong token");
        let (status, _) = get_json(&url, Some(TOKEN)).await;
        assert_eq!(status, 200, "{path} with the token");
    }
    let refused = reqwest::get(format!("{base}/status.json")).await.unwrap();
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer realm=\"zkfleet\""
    );
    // The page (no data), the scraper's endpoint and liveness stay open.
    for path in ["/", "/status", "/metrics", "/healthz"] {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_data_endpoints_need_a_token() {
    with_postgres(data_endpoints_need_a_token).await;
}

// --- The page in a browser -------------------------------------------------------------------

/// The Chromium binary: `ZKFLEET_TEST_CHROMIUM`, else the first of Debian's names on the PATH.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os(CHROMIUM_VAR) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{CHROMIUM_VAR}={} is not a file (unset it to use Debian's `chromium` from the PATH)",
            path.display()
        );
        return path;
    }
    let names = ["chromium", "chromium-headless-shell", "chromium-browser"];
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path_var) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "headless Chromium is needed for the status page's browser test and none was found: \
         install Debian's package (`apt-get install -y chromium`; .ci/run does) or set \
         {CHROMIUM_VAR} to the binary (looked for {names:?} on the PATH)"
    );
}

/// Runs headless Chromium on `url` with `action` (`--dump-dom` or `--screenshot=…`), letting the
/// page's script run for 5 s of virtual time (the clock does not advance while a fetch is
/// pending, so the first `status.json` is always in). Returns stdout.
async fn run_chromium(binary: &Path, profile: &Path, url: &str, action: &str) -> String {
    let mut command = tokio::process::Command::new(binary);
    command
        .args([
            "--headless",
            // The test may run as root (CI), where Chromium's sandbox cannot start.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1400,900",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(action)
        .arg(url)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .unwrap_or_else(|_| panic!("{} {action} did not finish in 90 s", binary.display()))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
    assert!(
        output.status.success(),
        "{} {action} failed ({}): {}",
        binary.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The `<tr>` of the dumped DOM whose `data-batch` is `number`.
fn batch_row(dom: &str, number: u32) -> &str {
    let start = dom
        .find(&format!("data-batch=\"{number}\""))
        .unwrap_or_else(|| panic!("no row for batch {number} in the rendered page:\n{dom}"));
    let end = dom[start..]
        .find("</tr>")
        .map(|i| start + i)
        .unwrap_or(dom.len());
    &dom[start..end]
}

/// Decodes the PNG and checks it shows a page, not a blank or single-colour frame.
fn check_screenshot(path: &Path) -> (u32, u32, usize) {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("Chromium wrote no screenshot at {}: {e}", path.display()));
    assert!(
        bytes.len() > 10_000,
        "screenshot of {} bytes is too small to be a rendered page",
        bytes.len()
    );
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("the screenshot is a PNG");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut pixels)
        .expect("decode the screenshot");
    let channels = frame.color_type.samples();
    let pixels = &pixels[..frame.buffer_size()];
    let mut colours = std::collections::HashMap::<&[u8], usize>::new();
    for pixel in pixels.chunks_exact(channels) {
        *colours.entry(pixel).or_default() += 1;
    }
    let total = pixels.len() / channels;
    let commonest = colours.values().copied().max().unwrap_or(0);
    assert!(
        colours.len() >= 16,
        "the screenshot has only {} colours: a blank page",
        colours.len()
    );
    assert!(
        commonest * 100 < total * 97,
        "one colour covers {commonest} of {total} pixels: a blank page"
    );
    (frame.width, frame.height, colours.len())
}

async fn status_page_renders_in_chromium(db: Arc<TestDb>) {
    let binary = chromium();
    fleet_mid_batch(&db).await;
    let dir = tempfile::tempdir().unwrap();
    // The whole monitor, tokens required (from a file), as an operator would run it.
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("operator {TOKEN}\n")).unwrap();
    let config = MonitorConfig {
        auth: AuthConfig {
            tokens_file: Some(tokens),
            required: Some(true),
        },
        ..MonitorConfig::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cancel = CancellationToken::new();
    let monitor = tokio::spawn(serve(
        db.dal.clone(),
        db.store.clone(),
        config,
        listener,
        install_prometheus_recorder().unwrap(),
        cancel.clone(),
    ));

    // The token travels in the fragment, as an operator's bookmark would carry it.
    let url = format!("{base}/#token={TOKEN}");
    let dom = run_chromium(&binary, &dir.path().join("profile-dom"), &url, "--dump-dom").await;
    assert!(
        !dom.contains("id=\"auth\" style=\"display: block;\""),
        "the page asked for a token although one was given:\n{dom}"
    );
    // (a) What only the script can have put there: batch 7 and its basic stage (witness 1/1,
    // proofs 1/4: 2 of 5 jobs done), batch 8's queued witness job, the failure's error text,
    // the worker's name.
    let row = batch_row(&dom, 7);
    assert!(row.contains(">#7<"), "{row}");
    assert!(
        row.contains("data-stage=\"basic\"><span class=\"frac\">2/5</span>"),
        "basic stage of batch 7 should read 2/5: {row}"
    );
    assert!(row.contains("witness 1/1 · proofs 1/4"), "{row}");
    assert!(
        row.contains("data-stage=\"leaf\"><span class=\"frac\">0/2</span>"),
        "{row}"
    );
    let row8 = batch_row(&dom, 8);
    assert!(
        row8.contains("data-stage=\"basic\"><span class=\"frac\">0/1</span>"),
        "{row8}"
    );
    // The error text is HTML-escaped in the DOM only where it must be (no markup in it here).
    assert!(
        dom.contains(OOM),
        "the failure's error text is not on the page:\n{dom}"
    );
    assert!(
        dom.contains(WORKER),
        "the worker is not on the page:\n{dom}"
    );
    assert!(dom.contains("signature_verification"), "{dom}");
    assert!(
        dom.contains("live · updated"),
        "the page did not mark itself live"
    );

    // (b) A screenshot that shows a page.
    let screenshot = dir.path().join("status.png");
    run_chromium(
        &binary,
        &dir.path().join("profile-png"),
        &url,
        &format!("--screenshot={}", screenshot.display()),
    )
    .await;
    let (width, height, colours) = check_screenshot(&screenshot);
    assert_eq!((width, height), (1400, 900));
    if let Some(keep) = std::env::var_os("ZKFLEET_TEST_KEEP_SCREENSHOT") {
        std::fs::copy(&screenshot, keep).unwrap();
    }
    eprintln!("status page screenshot: {width}x{height}, {colours} colours");

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), monitor)
        .await
        .expect("the monitor stops on cancel")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_status_page_renders_in_chromium() {
    with_postgres(status_page_renders_in_chromium).await;
}
