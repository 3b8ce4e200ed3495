//! `zkfleet verify` and `zkfleet keys verify` never trust a final verifying key file on its own
//! word (issue 14, docs/proofs.md "Trust in the final proof"): one flipped byte anywhere in
//! `final_vk.bin` is refused by both.
//!
//! Uses the small test keystore (support/small_keys.rs), copied, since the original is shared
//! with the other test binaries. A proof that verifies is checked in tests/fleet.rs (`zkfleet
//! verify --expect-vk-digest` on the fleet's final proof); here the key is refused before the
//! proof is read, so any proof file serves.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::small_keys::{keys_dir, proving_section, CONFIG};
use zkfleet_circuits::Keystore;

fn zkfleet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkfleet"))
        .args(args)
        .env_remove("ZKFLEET_CONFIG")
        .output()
        .expect("run zkfleet")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The key file of the small keystore and the digest its manifest records (what
/// `insert-version --from-keys` would record and an operator pins).
fn genuine_key() -> (PathBuf, String) {
    let keystore = Keystore::open(keys_dir()).expect("the small keystore");
    let digest = keystore
        .aggregation_entry(&CONFIG)
        .expect("the aggregation entry")
        .final_vk_digest
        .expect("a final vk digest");
    (keystore.final_vk_path(&CONFIG), digest)
}

fn verify(dir: &Path, key: &Path, pinned: Option<&str>) -> Output {
    let proof = dir.join("proof.bin");
    std::fs::write(&proof, b"not a proof").expect("write the proof file");
    let mut args = vec![
        "verify",
        "--proof",
        proof.to_str().expect("utf-8"),
        "--vk",
        key.to_str().expect("utf-8"),
    ];
    if let Some(pinned) = pinned {
        args.extend(["--expect-vk-digest", pinned]);
    }
    zkfleet(&args)
}

#[test]
fn verify_refuses_a_key_file_with_a_flipped_byte_anywhere() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (key, pinned) = genuine_key();
    let genuine = std::fs::read(&key).expect("read the key file");

    // Controls: the genuine key passes the pin and fails only at the (fake) proof; no pin is
    // refused by the command line itself.
    let control = verify(dir.path(), &key, Some(&pinned));
    assert!(!control.status.success());
    assert!(
        stderr(&control).contains("not a final proof of this key"),
        "the genuine key was not accepted: {}",
        stderr(&control)
    );
    let unpinned = verify(dir.path(), &key, None);
    assert!(!unpinned.status.success());
    assert!(
        stderr(&unpinned).contains("--expect-vk-digest"),
        "{}",
        stderr(&unpinned)
    );

    // Offsets spread over the whole file, first and last included (the library test
    // crates/circuits/tests/final_key.rs covers every offset).
    let step = (genuine.len() / 48).max(1);
    let mut offsets: Vec<usize> = (0..genuine.len()).step_by(step).collect();
    offsets.push(genuine.len() - 1);
    let edited_path = dir.path().join("edited_final_vk.bin");
    for offset in offsets {
        let mut edited = genuine.clone();
        edited[offset] ^= 0x01;
        std::fs::write(&edited_path, &edited).expect("write the edited key");
        let output = verify(dir.path(), &edited_path, Some(&pinned));
        assert!(!output.status.success(), "byte {offset}: accepted");
        let text = stderr(&output);
        assert!(
            text.contains("refused before being read") && text.contains(&pinned),
            "byte {offset}: {text}"
        );
    }
}

#[test]
fn keys_verify_refuses_a_key_file_with_its_last_byte_flipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).expect("keys dir");
    for entry in std::fs::read_dir(keys_dir()).expect("list the small keystore") {
        let entry = entry.expect("an entry");
        std::fs::copy(entry.path(), keys.join(entry.file_name())).expect("copy a key file");
    }
    let config = dir.path().join("zkfleet.toml");
    std::fs::write(&config, proving_section(&keys)).expect("write the configuration");
    let vk = Keystore::open(&keys)
        .expect("the copied keystore")
        .final_vk_path(&CONFIG);
    let mut bytes = std::fs::read(&vk).expect("read the key file");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&vk, &bytes).expect("write the edited key file");

    let output = zkfleet(&[
        "--config",
        config.to_str().expect("utf-8"),
        "keys",
        "verify",
    ]);
    assert!(
        !output.status.success(),
        "keys verify accepted an edited key file"
    );
    let text = stderr(&output);
    // `keys verify` compares the basic circuits and the aggregation entry first, then the key
    // file: an error at the key file's last byte shows every other byte of every file matched
    // the rebuilt circuits.
    assert!(
        text.contains("final_vk.bin") && text.contains(&format!("byte offset {last}")),
        "{text}"
    );
}

#[test]
fn the_sequencer_refuses_to_start_without_the_pinned_digest_or_with_another_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, pinned) = genuine_key();
    let run = |sequencer_section: &str| {
        let config = dir.path().join("zkfleet.toml");
        let text = format!(
            "data_dir = \"{}\"\n{}\n[sequencer]\nlisten_address = \"127.0.0.1:0\"\n{sequencer_section}",
            dir.path().join("data").display(),
            proving_section(keys_dir()),
        );
        std::fs::write(&config, text).expect("write the configuration");
        zkfleet(&["--config", config.to_str().expect("utf-8"), "sequencer"])
    };
    let missing = run("");
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("final_vk_digest"),
        "{}",
        stderr(&missing)
    );
    let mut other = pinned.clone().into_bytes();
    let last = other.len() - 1;
    other[last] = if other[last] == b'0' { b'1' } else { b'0' };
    let other = String::from_utf8(other).expect("hex");
    let wrong = run(&format!("final_vk_digest = \"{other}\"\n"));
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("refused before being read"),
        "{}",
        stderr(&wrong)
    );
}
