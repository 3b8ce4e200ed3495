//! Test fleets for the `zkfleet` binary: a fresh PostgreSQL database per test (on the server
//! named by `ZKFLEET_TEST_DATABASE_URL`, dropped afterwards) or the embedded SQLite default,
//! a local store in a temporary directory, and the binary run as a child process.

#![allow(dead_code)] // Each test binary uses its own subset.

pub(crate) mod small_keys;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use zkfleet_dal::{
    BasicWitnessOutput, Dal, HeavySet, NewAggregationProverJob, NewBasicProverJob,
    NewLeafWitnessJob, ProverJob, ProverJobClass,
};
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_test_support::database::PgDatabase;
use zkfleet_types::{BatchNumber, ChainId, CircuitId, L1BatchId, ProtocolSemanticVersion};

pub(crate) const CHAIN: u64 = 270;
pub(crate) const VERSION: &str = "0.1.0";
pub(crate) const V1: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
pub(crate) const SECOND: Duration = Duration::from_secs(1);
pub(crate) const RECURSION_VK: &str =
    "0x1111111111111111111111111111111111111111111111111111111111111111";
pub(crate) const FINAL_VK: &str =
    "0x2222222222222222222222222222222222222222222222222222222222222222";

/// `[polling]` of the tests' fleets: every component looks for work every 50–250 ms, as
/// `zkfleet prove` does. With the defaults (1–5 s) a test batch pays up to a witness
/// generator's and a prover's wait at each of its round transitions, which is most of a
/// small-circuit batch's time.
pub(crate) const FAST_POLLING: &str = r#"
[polling.witness_generator]
initial_ms = 50
max_ms = 250

[polling.circuit_prover]
initial_ms = 50
max_ms = 250

[polling.compressor]
initial_ms = 50
max_ms = 250
"#;

/// Where the fleet's database lives.
enum Backend {
    Postgres(PgDatabase),
    Sqlite,
}

/// One test's fleet: database, store directory, working directory.
pub(crate) struct TestFleet {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) dal: Dal,
    /// The database URL the binary gets through `ZKFLEET_DATABASE_URL` (PostgreSQL only).
    pub(crate) url: Option<String>,
    pub(crate) dir: tempfile::TempDir,
    backend: Backend,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

impl TestFleet {
    /// A fresh PostgreSQL database. Fails (never skips) when the server is not configured.
    pub(crate) fn postgres() -> Self {
        let runtime = runtime();
        let (database, dal) = runtime.block_on(async {
            let database = PgDatabase::create("cli").await;
            let dal = Dal::connect(database.url())
                .await
                .expect("connect and migrate");
            (database, dal)
        });
        Self {
            runtime,
            dal,
            url: Some(database.url().to_owned()),
            dir: tempfile::tempdir().expect("temporary directory"),
            backend: Backend::Postgres(database),
        }
    }

    /// The embedded default under `DIR/data` (the binary is given `--data-dir`).
    pub(crate) fn sqlite() -> Self {
        let runtime = runtime();
        let dir = tempfile::tempdir().expect("temporary directory");
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let url = format!("sqlite://{}", data_dir.join("zkfleet.sqlite").display());
        let dal = runtime
            .block_on(Dal::connect(&url))
            .expect("connect and migrate");
        Self {
            runtime,
            dal,
            url: None,
            dir,
            backend: Backend::Sqlite,
        }
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The local store's root: `DIR/store` (given through `ZKFLEET_STORE__ROOT`) for PostgreSQL
    /// fleets, the embedded `DIR/data/store` for SQLite ones.
    pub(crate) fn store_root(&self) -> PathBuf {
        match self.backend {
            Backend::Postgres(_) => self.dir.path().join("store"),
            Backend::Sqlite => self.data_dir().join("store"),
        }
    }

    /// The binary with this fleet's environment, in the test's directory, stdin not a terminal.
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_zkfleet"));
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        // The developer's or CI's own configuration must not leak into the test.
        for (name, _) in std::env::vars() {
            if name.starts_with("ZKFLEET_") {
                command.env_remove(name);
            }
        }
        match (&self.backend, &self.url) {
            (Backend::Postgres(_), Some(url)) => {
                command
                    .env("ZKFLEET_DATABASE_URL", url)
                    .env("ZKFLEET_STORE__ROOT", self.store_root());
            }
            _ => {
                command.arg("--data-dir").arg(self.data_dir());
            }
        }
        command
    }

    /// Runs `zkfleet ARGS` on a pseudo-terminal (util-linux `script`), typing `input`: what an
    /// operator at a terminal sees.
    pub(crate) fn run_on_terminal(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write as _;
        let mut words = vec![env!("CARGO_BIN_EXE_zkfleet").to_owned()];
        if self.url.is_none() {
            words.push("--data-dir".to_owned());
            words.push(self.data_dir().display().to_string());
        }
        words.extend(args.iter().map(|a| (*a).to_owned()));
        let line = words
            .iter()
            .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut command = Command::new("script");
        command
            .args(["-qec", &line, "/dev/null"])
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars() {
            if name.starts_with("ZKFLEET_") {
                command.env_remove(name);
            }
        }
        if let Some(url) = &self.url {
            command
                .env("ZKFLEET_DATABASE_URL", url)
                .env("ZKFLEET_STORE__ROOT", self.store_root());
        }
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot run `script` (util-linux) to give zkfleet a terminal: {e}")
        });
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .expect("type the answer");
        child.wait_with_output().expect("wait for script")
    }

    /// Runs `zkfleet ARGS` to completion.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .expect("run the zkfleet binary")
    }

    /// Runs `zkfleet ARGS` and returns its stdout; panics with both streams if it fails.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "zkfleet {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs `zkfleet ARGS`, expects it to fail, returns its stderr.
    pub(crate) fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            !output.status.success(),
            "zkfleet {args:?} succeeded but should have failed:\nstdout:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    pub(crate) fn insert_version(&self) -> String {
        self.ok(&[
            "insert-version",
            "--version",
            VERSION,
            "--recursion-tree-vk",
            RECURSION_VK,
            "--final-vk",
            FINAL_VK,
        ])
    }

    /// Generates batch `number` of chain 270 (tiny parameters), writes `batch-N.bin` and
    /// `batch-N.json` in the test directory and inserts it through the CLI.
    pub(crate) fn insert_batch(&self, number: u32) -> String {
        let (binary, _) = self.write_batch(number);
        self.ok(&[
            "--chain-id",
            "270",
            "insert-batch",
            "--number",
            &number.to_string(),
            "--version",
            VERSION,
            "--input",
            binary.to_str().expect("utf-8 path"),
        ])
    }

    /// Writes batch `number` as binary and JSON; returns both paths.
    pub(crate) fn write_batch(&self, number: u32) -> (PathBuf, PathBuf) {
        let generated = generate(&GeneratorConfig {
            accounts: 3,
            operations: 4,
            seed: u64::from(number),
            tree_height: 2,
            chain_id: ChainId(CHAIN),
            batch_number: BatchNumber(number),
            invalid: None,
        })
        .expect("generate a batch");
        // The binary file is the complete witness input (batch + pre-state); the JSON file is the
        // batch alone, which needs `--genesis genesis-{number}.json`.
        let binary = self.dir.path().join(format!("batch-{number}.bin"));
        let json = self.dir.path().join(format!("batch-{number}.json"));
        let input = zkfleet_witness_generator::BatchWitnessInput::from_genesis(
            &generated.batch,
            &generated.genesis,
        )
        .expect("witness input");
        std::fs::write(&binary, input.encode().expect("encode")).expect("write batch");
        std::fs::write(
            self.dir.path().join(format!("genesis-{number}.json")),
            generated.genesis.to_json(),
        )
        .expect("write genesis");
        std::fs::write(
            &json,
            zkfleet_rollup::encoding::json::encode(&generated.batch),
        )
        .expect("write batch");
        (binary, json)
    }

    /// A complete witness input of batch `number` that breaks `rule` (execution refuses it).
    pub(crate) fn write_invalid_batch(
        &self,
        number: u32,
        rule: zkfleet_rollup::generate::InvalidKind,
    ) -> PathBuf {
        let generated = generate(&GeneratorConfig {
            accounts: 3,
            operations: 4,
            seed: u64::from(number),
            tree_height: 2,
            chain_id: ChainId(CHAIN),
            batch_number: BatchNumber(number),
            invalid: Some(rule),
        })
        .expect("generate an invalid batch");
        let path = self.dir.path().join(format!("invalid-batch-{number}.bin"));
        let input = zkfleet_witness_generator::BatchWitnessInput::from_genesis(
            &generated.batch,
            &generated.genesis,
        )
        .expect("witness input");
        std::fs::write(&path, input.encode().expect("encode")).expect("write batch");
        path
    }

    /// Runs the basic witness generation of the queued batch through the database API: one
    /// basic prover job of type 1, its leaf job.
    pub(crate) fn run_basic_witness_generation(&self, number: u32) -> L1BatchId {
        let batch = batch_id(number);
        self.runtime.block_on(async {
            let job = self
                .dal
                .pick_basic_witness_job(V1, "bwg")
                .await
                .expect("pick")
                .expect("a queued basic witness job");
            assert_eq!(job.meta.batch, batch);
            let output = BasicWitnessOutput {
                prover_jobs: vec![NewBasicProverJob {
                    circuit_id: CircuitId(1),
                    sequence_number: 0,
                    circuit_blob_key: format!("circuits/{number}/basic_1_0"),
                }],
                leaf_jobs: vec![NewLeafWitnessJob {
                    circuit_id: CircuitId(1),
                    number_of_basic_circuits: 1,
                    closed_form_inputs_blob_key: format!("closed_form/{number}/1"),
                }],
                scheduler_partial_input_blob_key: format!("scheduler_partial/{number}"),
            };
            let outcome = self
                .dal
                .complete_basic_witness_job(batch, &output, SECOND)
                .await
                .expect("complete");
            assert!(outcome.is_completed(), "{outcome:?}");
        });
        batch
    }

    pub(crate) fn pick_prover_job(&self) -> Option<ProverJob> {
        self.runtime
            .block_on(self.dal.pick_prover_job(
                V1,
                ProverJobClass::Any,
                &HeavySet::default(),
                "prover-test",
            ))
            .expect("pick")
    }

    /// Runs every worker through the database API until nothing is left: the whole proof tree
    /// of every batch whose basic witness generation is done, down to the compressed proof.
    pub(crate) fn drive_to_completion(&self) {
        self.runtime.block_on(drive_to_completion(&self.dal));
    }

    /// A path in the test's directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for TestFleet {
    fn drop(&mut self) {
        let dal = self.dal.clone();
        let backend = std::mem::replace(&mut self.backend, Backend::Sqlite);
        self.runtime.block_on(async move {
            dal.close().await;
            if let Backend::Postgres(database) = backend {
                database.drop_database().await;
            }
        });
    }
}

pub(crate) fn batch_id(number: u32) -> L1BatchId {
    L1BatchId::new(ChainId(CHAIN), BatchNumber(number))
}

fn aggregate(label: &str, n: usize) -> Vec<NewAggregationProverJob> {
    (0..n.div_ceil(2))
        .map(|i| NewAggregationProverJob {
            sequence_number: i as u32,
            circuit_blob_key: format!("circuits/{label}_{i}"),
        })
        .collect()
}

async fn drive_to_completion(dal: &Dal) {
    loop {
        let mut progress = false;
        while let Some(job) = dal
            .pick_prover_job(V1, ProverJobClass::Any, &HeavySet::default(), "prover")
            .await
            .expect("pick prover job")
        {
            let key = format!("proofs/{}", job.id);
            dal.complete_prover_job(job.id, &key, SECOND)
                .await
                .expect("complete prover job");
            progress = true;
        }
        if let Some(job) = dal.pick_leaf_witness_job(V1, "lwg").await.expect("pick") {
            let label = format!("leaf_{}", job.id);
            let output = zkfleet_dal::LeafWitnessOutput {
                prover_jobs: aggregate(&label, job.basic_proofs.len()),
                node_aggregations_blob_key: Some(format!("aggregations/{label}")),
            };
            dal.complete_leaf_witness_job(job.id, &output, SECOND)
                .await
                .expect("complete leaf");
            progress = true;
        }
        if let Some(job) = dal.pick_node_witness_job(V1, "nwg").await.expect("pick") {
            let label = format!("node_{}", job.id);
            let output = zkfleet_dal::NodeWitnessOutput {
                prover_jobs: aggregate(&label, job.proofs.len()),
                next_aggregations_blob_key: Some(format!("aggregations/{label}")),
            };
            dal.complete_node_witness_job(job.id, &output, SECOND)
                .await
                .expect("complete node");
            progress = true;
        }
        if let Some(job) = dal
            .pick_recursion_tip_witness_job(V1, "rtwg")
            .await
            .expect("pick")
        {
            let key = format!("circuits/tip_{}", job.meta.batch.batch_number);
            dal.complete_recursion_tip_witness_job(job.meta.batch, &key, SECOND)
                .await
                .expect("complete tip");
            progress = true;
        }
        if let Some(job) = dal
            .pick_scheduler_witness_job(V1, "swg")
            .await
            .expect("pick")
        {
            let key = format!("circuits/scheduler_{}", job.meta.batch.batch_number);
            dal.complete_scheduler_witness_job(job.meta.batch, &key, SECOND)
                .await
                .expect("complete scheduler");
            progress = true;
        }
        if let Some(job) = dal
            .pick_compression_job(V1, "compressor")
            .await
            .expect("pick")
        {
            let key = format!("final/{}", job.meta.batch.batch_number);
            dal.complete_compression_job(job.meta.batch, &key, SECOND)
                .await
                .expect("complete compression");
            progress = true;
        }
        if !progress {
            return;
        }
    }
}
