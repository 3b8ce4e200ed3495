use super::*;
use crate::spec::{account_leaf_hash, two_to_one, F, ZERO};
use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOut;

fn pk(i: u64) -> Digest {
    HashOut {
        elements: [F::from_canonical_u64(i), F::ONE, F::TWO, F::ZERO],
    }
}

fn account(i: u64, balance: u64) -> Account {
    Account {
        public_key: pk(i),
        balance,
        nonce: i as u32,
    }
}

/// Root of a tree holding exactly `leaves`, computed level by level without the trait.
fn reference_root(leaves: &[(AccountId, Account)]) -> Digest {
    let mut level: std::collections::HashMap<u64, Digest> = leaves
        .iter()
        .map(|(id, a)| (u64::from(*id), a.leaf_hash()))
        .collect();
    for height in 0..STATE_TREE_DEPTH {
        let empty = empty_subtrees()[height];
        let mut parents = std::collections::HashMap::new();
        for &index in level.keys() {
            let left = *level.get(&(index & !1)).unwrap_or(&empty);
            let right = *level.get(&(index | 1)).unwrap_or(&empty);
            parents.insert(index >> 1, two_to_one(left, right));
        }
        level = parents;
    }
    level
        .get(&0)
        .copied()
        .unwrap_or(empty_subtrees()[STATE_TREE_DEPTH])
}

fn exercise(state: &mut impl StateTree) {
    assert_eq!(state.root().unwrap(), empty_subtrees()[STATE_TREE_DEPTH]);
    let empty_proof = state.membership_proof(7).unwrap();
    assert_eq!(empty_proof.account, None);
    empty_proof.verify().unwrap();

    let writes = [
        (0u32, account(1, 10)),
        (1, account(2, 20)),
        (7, account(3, u64::MAX)),
        (u32::MAX, account(4, 1)),
        (1 << 20, account(5, 0)),
    ];
    let mut written = Vec::new();
    for (id, a) in writes {
        let update = state.set_account(id, a).unwrap();
        update.verify().unwrap();
        assert_eq!(update.root_after, state.root().unwrap());
        written.push((id, a));
        assert_eq!(state.root().unwrap(), reference_root(&written));
    }
    // Overwrite: old leaf in the proof is the previous account.
    let update = state.set_account(1, account(2, 21)).unwrap();
    assert_eq!(update.leaf_before, Some(account(2, 20)));
    update.verify().unwrap();
    written[1] = (1, account(2, 21));
    assert_eq!(state.root().unwrap(), reference_root(&written));

    state.commit().unwrap();
    for (id, a) in &written {
        let proof = state.membership_proof(*id).unwrap();
        assert_eq!(proof.account, Some(*a));
        proof.verify().unwrap();
    }

    // Rollback drops staged updates only.
    let committed_root = state.root().unwrap();
    state.set_account(3, account(9, 9)).unwrap();
    assert_ne!(state.root().unwrap(), committed_root);
    state.rollback();
    assert_eq!(state.root().unwrap(), committed_root);
    assert_eq!(state.account(3).unwrap(), None);
}

#[test]
fn memory_state_roots_and_proofs() {
    exercise(&mut MemoryState::new());
}

#[test]
fn disk_state_roots_and_proofs_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let root = {
        let mut state = DiskState::open(&path).unwrap();
        exercise(&mut state);
        state.root().unwrap()
    };
    let reopened = DiskState::open(&path).unwrap();
    assert_eq!(reopened.root().unwrap(), root);
    assert_eq!(reopened.account(7).unwrap(), Some(account(3, u64::MAX)));
}

#[test]
fn memory_and_disk_agree() {
    let dir = tempfile::tempdir().unwrap();
    let mut disk = DiskState::open(&dir.path().join("s.redb")).unwrap();
    let mut memory = MemoryState::new();
    for i in 0..40u32 {
        let id = i.wrapping_mul(2_654_435_761);
        let a = account(u64::from(i), u64::from(i) * 1000);
        assert_eq!(
            disk.set_account(id, a).unwrap(),
            memory.set_account(id, a).unwrap()
        );
    }
    disk.commit().unwrap();
    memory.commit().unwrap();
    assert_eq!(disk.root().unwrap(), memory.root().unwrap());
}

#[test]
fn tampered_proofs_are_rejected() {
    let mut state = MemoryState::new();
    state.set_account(5, account(1, 1)).unwrap();
    let mut update = state.set_account(5, account(1, 2)).unwrap();
    update.verify().unwrap();

    let mut wrong_leaf = update.clone();
    wrong_leaf.leaf_after.balance = 3;
    assert!(matches!(
        wrong_leaf.verify(),
        Err(ProofError::RootMismatch { which: "new", .. })
    ));

    let mut wrong_before = update.clone();
    wrong_before.leaf_before = None;
    assert!(matches!(
        wrong_before.verify(),
        Err(ProofError::RootMismatch { which: "old", .. })
    ));

    update.siblings.pop();
    assert!(matches!(
        update.verify(),
        Err(ProofError::WrongSiblingCount { got: 31, .. })
    ));

    let mut proof = state.membership_proof(5).unwrap();
    proof.account_id = 4;
    assert!(proof.verify().is_err());
}

#[test]
fn leaf_hash_matches_the_spec() {
    let a = account(1, 1 << 40);
    assert_eq!(a.leaf_hash(), account_leaf_hash(pk(1), 1 << 40, 1));
    assert_ne!(a.leaf_hash(), ZERO);
}
