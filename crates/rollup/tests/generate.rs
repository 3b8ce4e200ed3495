//! The generator: valid batches execute, each invalid kind is rejected for its rule, and the
//! output depends only on the configuration.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use zkfleet_rollup::encoding::{binary, json};
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{
    generate, write_to_dir, GenerateError, GeneratorConfig, InvalidKind,
};
use zkfleet_rollup::genesis::Genesis;
use zkfleet_rollup::keyring::Keyring;
use zkfleet_rollup::operation::Operation;
use zkfleet_rollup::state::StateTree;

fn config(seed: u64) -> GeneratorConfig {
    GeneratorConfig {
        accounts: 5,
        operations: 40,
        seed,
        tree_height: 4,
        ..GeneratorConfig::default()
    }
}

#[test]
fn generated_batch_is_valid_and_mixes_every_operation() {
    let generated = generate(&config(1)).unwrap();
    assert_eq!(generated.batch.operations.len(), 40);
    let mut state = generated.genesis.to_memory_state().unwrap();
    let executed = execute_batch(&mut state, &generated.batch).unwrap();
    let count =
        |f: fn(&Operation) -> bool| generated.batch.operations.iter().filter(|o| f(o)).count();
    assert!(count(|o| matches!(o, Operation::Transfer(_))) > 0);
    assert!(count(|o| matches!(o, Operation::Withdraw(_))) > 0);
    let creating = count(|o| matches!(o, Operation::Deposit(d) if d.to >= 5));
    assert!(creating > 0, "some deposits must create accounts");
    assert_eq!(
        executed.public_output.deposits_consumed as usize,
        count(|o| matches!(o, Operation::Deposit(_)))
    );
    // Every account, including the created ones, can be signed for from the keyring.
    for (id, account) in state.accounts() {
        let pair = generated.keyring.key_pair(id, account.nonce).unwrap();
        assert_eq!(pair.public_key_digest(), account.public_key, "account {id}");
    }
}

#[test]
fn generation_is_deterministic() {
    let a = generate(&config(7)).unwrap();
    let b = generate(&config(7)).unwrap();
    let c = generate(&config(8)).unwrap();
    assert_eq!(
        binary::encode(&a.batch).unwrap(),
        binary::encode(&b.batch).unwrap()
    );
    assert_eq!(a.genesis.to_json(), b.genesis.to_json());
    assert_eq!(a.keyring.to_json(), b.keyring.to_json());
    assert_ne!(
        binary::encode(&a.batch).unwrap(),
        binary::encode(&c.batch).unwrap()
    );
}

#[test]
fn every_invalid_kind_is_rejected_for_its_rule() {
    for (operations, seed) in [(9, 3), (1, 4), (2, 5)] {
        for kind in InvalidKind::ALL {
            let cfg = GeneratorConfig {
                operations,
                invalid: Some(kind),
                ..config(seed)
            };
            let generated = generate(&cfg).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(generated.batch.operations.len(), operations);
            let mut state = generated.genesis.to_memory_state().unwrap();
            let root = state.root().unwrap();
            let err = execute_batch(&mut state, &generated.batch)
                .err()
                .unwrap_or_else(|| panic!("{kind}: the batch was accepted"));
            assert!(
                kind.matches(&err),
                "{kind}: rejected for another reason: {err}"
            );
            assert_eq!(state.root().unwrap(), root);
            assert_eq!(kind.to_string().parse::<InvalidKind>().unwrap(), kind);
            // The invalid operation sits in the middle; an unknown operator already fails at
            // the first signed operation.
            if let zkfleet_rollup::execute::ExecutionError::Operation { index, .. } = err {
                if kind != InvalidKind::UnknownOperator {
                    assert_eq!(index, operations / 2, "{kind}");
                }
            }
        }
    }
    assert!("no-such-kind"
        .parse::<InvalidKind>()
        .unwrap_err()
        .contains("reused-key"));
}

#[test]
fn configuration_errors_are_reported() {
    let err = generate(&GeneratorConfig {
        accounts: 1,
        ..config(0)
    })
    .unwrap_err();
    assert!(matches!(err, GenerateError::TooFewAccounts(1)));
    let err = generate(&GeneratorConfig {
        tree_height: 0,
        ..config(0)
    })
    .unwrap_err();
    assert!(matches!(err, GenerateError::TreeHeight(0)));
    let err = generate(&GeneratorConfig {
        operations: 0,
        invalid: Some(InvalidKind::Nonce),
        ..config(0)
    })
    .unwrap_err();
    assert!(matches!(err, GenerateError::NoOperations));
}

#[test]
fn written_files_read_back() {
    let generated = generate(&GeneratorConfig {
        operations: 6,
        ..config(5)
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = write_to_dir(&generated, dir.path()).unwrap();
    let genesis = Genesis::from_json(&std::fs::read_to_string(&files.genesis).unwrap()).unwrap();
    let keyring = Keyring::from_json(&std::fs::read_to_string(&files.keyring).unwrap()).unwrap();
    let from_json = json::decode(&std::fs::read_to_string(&files.batch_json).unwrap()).unwrap();
    let from_binary = binary::decode(&std::fs::read(&files.batch_binary).unwrap()).unwrap();
    assert_eq!(genesis, generated.genesis);
    assert_eq!(keyring, generated.keyring);
    assert_eq!(from_json, generated.batch);
    assert_eq!(from_binary, generated.batch);
    execute_batch(&mut genesis.to_memory_state().unwrap(), &from_binary).unwrap();
}
