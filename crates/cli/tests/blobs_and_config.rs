//! `zkfleet file-info` on final proofs and corrupt blobs, and `zkfleet config show`: no
//! database involved.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::process::{Command, Stdio};

use zkfleet_store::{ObjectKey, Store, StoreConfig};
use zkfleet_types::api::{Base64Bytes, FinalProof};
use zkfleet_types::{BatchNumber, BatchPublicOutput, ChainId, HashDigest, ProtocolSemanticVersion};

fn zkfleet(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zkfleet"));
    command.current_dir(dir).stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.starts_with("ZKFLEET_") {
            command.env_remove(name);
        }
    }
    command
}

fn final_proof() -> FinalProof {
    FinalProof {
        protocol_version: ProtocolSemanticVersion::new(1, 0),
        public_output: BatchPublicOutput {
            chain_id: ChainId(270),
            batch_number: BatchNumber(12),
            prev_state_root: HashDigest([1, 2, 3, 4]),
            new_state_root: HashDigest([5, 6, 7, 8]),
            operations_commitment: HashDigest([9, 9, 9, 9]),
            deposits_consumed: 3,
            deposits_commitment: HashDigest([10, 10, 10, 10]),
            withdrawals_commitment: HashDigest([11, 11, 11, 11]),
            pubdata_commitment: HashDigest([12, 12, 12, 12]),
            recursion_tree_vk_digest: HashDigest([13, 13, 13, 13]),
        },
        proof: Base64Bytes(vec![0xab; 1000]),
    }
}

#[test]
fn file_info_decodes_a_final_proof_and_refuses_a_truncated_blob() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = Store::open(&StoreConfig::local(&root)).unwrap();
    let key = ObjectKey::FinalProof {
        chain: ChainId(270),
        batch: BatchNumber(12),
        protocol_version: ProtocolSemanticVersion::new(1, 0),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let path = runtime.block_on(store.put(&key, &final_proof())).unwrap();
    let file = root.join(&path);

    let output = zkfleet(dir.path())
        .arg("file-info")
        .arg(&file)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("kind:             final proof"), "{out}");
    assert!(
        out.contains("object key:       final_proofs/270/12_0.1.0.bin"),
        "{out}"
    );
    assert!(out.contains("protocol version: 0.1.0"), "{out}");
    assert!(out.contains("proof:            1000 bytes"), "{out}");
    assert!(out.contains("batch number:             12"), "{out}");
    assert!(out.contains(&HashDigest([5, 6, 7, 8]).to_string()), "{out}");

    // Truncated: the codec's error, naming the sizes.
    let blob = std::fs::read(&file).unwrap();
    let truncated = dir.path().join("truncated.bin");
    std::fs::write(&truncated, &blob[..blob.len() - 10]).unwrap();
    let output = zkfleet(dir.path())
        .arg("file-info")
        .arg(&truncated)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains(&format!(
            "truncated: expected {} bytes, found {}",
            blob.len(),
            blob.len() - 10
        )),
        "{err}"
    );

    // A flipped bit: checksum mismatch.
    let mut flipped = blob.clone();
    flipped[30] ^= 1;
    let corrupt = dir.path().join("corrupt.bin");
    std::fs::write(&corrupt, &flipped).unwrap();
    let output = zkfleet(dir.path())
        .arg("file-info")
        .arg(&corrupt)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("checksum mismatch"), "{err}");
}

#[test]
fn config_show_redacts_secrets_and_applies_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("zkfleet.toml");
    std::fs::write(
        &config,
        "chain_id = 270\n[database]\nmax_connections = 4\n[store]\nbackend = \"s3\"\n\
         bucket = \"proofs\"\nendpoint = \"http://127.0.0.1:9000\"\n",
    )
    .unwrap();
    let output = zkfleet(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["config", "show"])
        .env(
            "ZKFLEET_DATABASE_URL",
            "postgres://prover:hunter2@db:5432/fleet",
        )
        .env("ZKFLEET_DATABASE__MAX_CONNECTIONS", "25")
        .env("ZKFLEET_STORE__BUCKET", "blobs")
        .env("AWS_SECRET_ACCESS_KEY", "aws-s3cr3t")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !out.contains("hunter2") && !out.contains("aws-s3cr3t"),
        "{out}"
    );
    assert!(out.contains("postgres://prover:***@db:5432/fleet"), "{out}");
    assert!(
        out.contains("environment variable ZKFLEET_DATABASE_URL"),
        "{out}"
    );
    assert!(out.contains("chain_id = 270"), "{out}");
    assert!(out.contains("max_connections = 25"), "{out}");
    assert!(out.contains("bucket = \"blobs\""), "{out}");
    assert!(
        out.contains("S3 bucket blobs at http://127.0.0.1:9000"),
        "{out}"
    );

    // The URL from a secret file; the flag wins over the file's chain.
    let secret = dir.path().join("database-url");
    std::fs::write(&secret, "postgres://prover:from-file@db/fleet\n").unwrap();
    let output = zkfleet(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["--chain-id", "5", "config", "show"])
        .env("ZKFLEET_DATABASE_URL_FILE", &secret)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    assert!(!out.contains("from-file"), "{out}");
    assert!(out.contains("postgres://prover:***@db/fleet"), "{out}");
    assert!(out.contains(&format!("file {}", secret.display())), "{out}");
    assert!(out.contains("chain_id = 5"), "{out}");

    // A misspelt override is an error naming it.
    let output = zkfleet(dir.path())
        .args(["config", "show"])
        .env("ZKFLEET_DATABASE__MAX_CONECTIONS", "3")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("max_conections"), "{err}");
}

/// Each component takes its idle wait from `[polling]`: a value it refuses is reported with the
/// section to fix, before the process touches a database or loads a circuit.
#[test]
fn components_refuse_an_invalid_polling_section() {
    let dir = tempfile::tempdir().unwrap();
    for (section, command) in [
        (
            "witness_generator",
            &["witness-generator", "--all-rounds"][..],
        ),
        ("circuit_prover", &["circuit-prover"][..]),
        ("compressor", &["compressor"][..]),
    ] {
        let variable = format!("ZKFLEET_POLLING__{}__INITIAL_MS", section.to_uppercase());
        let output = zkfleet(dir.path())
            .args(command)
            .env(&variable, "0")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{command:?} ran with {variable}=0"
        );
        assert!(
            err.contains(&format!("[polling.{section}]")) && err.contains("initial"),
            "{command:?}: {err}"
        );
    }

    // From the file: a first wait above the ceiling.
    let config = dir.path().join("zkfleet.toml");
    std::fs::write(&config, "[polling.compressor]\ninitial_ms = 20000\n").unwrap();
    let output = zkfleet(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("compressor")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        err.contains("[polling.compressor]") && err.contains("10000") && err.contains("20000"),
        "{err}"
    );
    // And `config show` prints what a component will use.
    let output = zkfleet(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["config", "show"])
        .env("ZKFLEET_POLLING__CIRCUIT_PROVER__MAX_MS", "250")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("[polling.circuit_prover]\ninitial_ms = 1000\nmax_ms = 250"),
        "{out}"
    );
}

/// Issue 15: every configuration example in the documentation (a ```toml block of docs/*.md or
/// the README) loads: `zkfleet --config EXAMPLE config show` accepts it. Blocks fenced
/// ```toml library show a library's struct, not the configuration file, and are skipped.
/// Digests written `"0x…"` are placeholders the reader fills in; the test fills in one.
#[test]
fn documented_configuration_examples_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut sources: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    sources.push(root.join("README.md"));
    sources.sort();
    let placeholder_digest = format!("\"0x{}\"", "00".repeat(32));
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for source in &sources {
        let text = std::fs::read_to_string(source).unwrap();
        let mut lines = text.lines().enumerate();
        while let Some((start, line)) = lines.next() {
            if line.trim_end() != "```toml" {
                continue;
            }
            let block: Vec<&str> = lines
                .by_ref()
                .map(|(_, l)| l)
                .take_while(|l| !l.starts_with("```"))
                .collect();
            let example = block.join("\n").replace("\"0x…\"", &placeholder_digest);
            let file = dir.path().join("example.toml");
            std::fs::write(&file, &example).unwrap();
            let output = zkfleet(dir.path())
                .arg("--config")
                .arg(&file)
                .args(["config", "show"])
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}:{}: the documented configuration does not load:\n{example}\n{}",
                source.display(),
                start + 1,
                String::from_utf8_lossy(&output.stderr)
            );
            checked += 1;
        }
    }
    // gateway, job monitor, sequencer (2), store at least.
    assert!(checked >= 5, "only {checked} examples found");
    // And the commented example file the README points to.
    let output = zkfleet(dir.path())
        .arg("--config")
        .arg(root.join("crates/cli/zkfleet.example.toml"))
        .args(["config", "show"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "crates/cli/zkfleet.example.toml does not load: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `zkfleet … | head -1`: the reader closes the pipe, and the command must neither panic (the
/// old `println!` did: exit 101 and a panic message) nor report an error; it finishes with its
/// own exit code. A stdout that fails for another reason (a full disk: `/dev/full`) is an
/// error: the output that was asked for is missing.
#[test]
fn output_to_a_closed_pipe_is_dropped_and_a_full_disk_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // The read end is closed before the command starts, so its first write fails with EPIPE
    // (Rust ignores SIGPIPE) rather than landing in the pipe's buffer.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = zkfleet(dir.path())
        .args(["config", "show"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {err}", output.status);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("error"), "{err}");

    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = zkfleet(dir.path())
        .args(["config", "show"])
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("error: writing to stdout"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
