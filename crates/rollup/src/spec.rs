//! The binding hash encodings of the rollup (docs/rollup.md §1–5) as small pure functions.
//!
//! Everything that both the native code and the circuits compute lives here, once: domain tags,
//! scheme parameters, the account leaf, the Winternitz chains, the digit decomposition, the
//! operation digests and the running-commitment steps. The circuits crate mirrors each function
//! gate by gate and uses these as its reference; a change here is a change of the specification
//! and must be made in docs/rollup.md at the same time.

use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::{Field, Field64, PrimeField64};
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::plonk::config::Hasher;
use zkfleet_types::HashDigest;

/// The field of every hash input: Goldilocks, p = 2^64 − 2^32 + 1.
pub type F = GoldilocksField;
/// A Poseidon digest: four field elements.
pub type Digest = HashOut<F>;

// ---------------------------------------------------------------------------------------------
// Domain tags: the first input of every tagged hash (or the input next to the chained value),
// so that no value of one kind can be passed off as another.
// ---------------------------------------------------------------------------------------------

/// Account leaf of the state tree.
pub const DOMAIN_ACCOUNT: u64 = 1;
/// WOTS secret chain start.
pub const DOMAIN_WOTS_SK: u64 = 2;
/// WOTS chain step.
pub const DOMAIN_WOTS_CHAIN: u64 = 3;
/// WOTS one-time public key (leaf of the one-time-key tree).
pub const DOMAIN_WOTS_PK: u64 = 4;
/// Signed transaction message (Transfer, Withdraw).
pub const DOMAIN_TX: u64 = 5;
/// Deposit (L1 priority operation).
pub const DOMAIN_DEPOSIT: u64 = 6;
/// Withdrawal (what L1 pays out).
pub const DOMAIN_WITHDRAWAL: u64 = 7;
/// Pubdata of one operation (what data availability publishes).
pub const DOMAIN_PUBDATA: u64 = 8;

// Operation kinds, as they appear inside digests.

/// `Deposit`.
pub const KIND_DEPOSIT: u64 = 1;
/// `Transfer`.
pub const KIND_TRANSFER: u64 = 2;
/// `Withdraw`.
pub const KIND_WITHDRAW: u64 = 3;

// ---------------------------------------------------------------------------------------------
// Parameters.
// ---------------------------------------------------------------------------------------------

/// Depth of the state tree: account id = leaf index, a `u32`.
pub const STATE_TREE_DEPTH: usize = 32;
/// Winternitz parameter: base-`W` digits.
pub const WOTS_W: u64 = 4;
/// Bits per Winternitz digit (log2 W).
pub const WOTS_LOG_W: usize = 2;
/// Steps of a full chain: `W − 1`.
pub const WOTS_CHAIN_STEPS: u64 = WOTS_W - 1;
/// Message digits: 4 elements × 32 base-4 digits.
pub const WOTS_L1: usize = 128;
/// Checksum digits: `Σ (3 − d_i)` ≤ 384 < 4^5.
pub const WOTS_L2: usize = 5;
/// Chains per one-time key.
pub const WOTS_L: usize = WOTS_L1 + WOTS_L2;
/// Default height of the one-time-key tree: 1,024 signatures per account.
pub const DEFAULT_XMSS_HEIGHT: usize = 10;
/// Largest accepted one-time-key tree height. 2^20 one-time keys already take minutes to
/// generate; the bound keeps every key index (and nonce) far below `u32::MAX`.
pub const MAX_XMSS_HEIGHT: usize = 20;
/// Elements of a withdrawal's L1 recipient: 20 bytes as five little-endian 32-bit limbs (a
/// 64-bit limb would not always fit the field).
pub const L1_RECIPIENT_LIMBS: usize = 5;

/// Number of elements of an account leaf's preimage after the tag.
pub const ACCOUNT_LEAF_FIELDS: usize = 7;

// ---------------------------------------------------------------------------------------------
// Conversions.
// ---------------------------------------------------------------------------------------------

/// The all-zero digest: empty leaf, start of every running commitment.
pub const ZERO: Digest = HashOut {
    elements: [F::ZERO; 4],
};

/// A `u64` as two 32-bit limbs `[lo, hi]` (a `u64` may exceed p, so it never travels as one
/// element).
pub fn u64_limbs(x: u64) -> [F; 2] {
    [
        F::from_canonical_u64(x & 0xffff_ffff),
        F::from_canonical_u64(x >> 32),
    ]
}

/// A small integer (account id, nonce, key index, chain index, tag) as one element.
pub fn u32_element(x: u32) -> F {
    F::from_canonical_u32(x)
}

/// A digest as it travels outside circuits.
pub fn digest_to_hash_digest(d: Digest) -> HashDigest {
    HashDigest(d.elements.map(|e| e.to_canonical_u64()))
}

/// A `u64` from outside that is not a canonical field element (≥ p).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a canonical field element (≥ p)")]
pub struct NonCanonical(pub u64);

/// The field element `x` from outside (a blob, a witness, a public input), checked: `x < p`.
/// Never reduced modulo p: two encodings of one element would let a malformed input pass for a
/// well-formed one. The one decoder of every crate that reads field elements from bytes.
pub fn field_element(x: u64) -> Result<F, NonCanonical> {
    if x >= F::ORDER {
        return Err(NonCanonical(x));
    }
    Ok(F::from_canonical_u64(x))
}

/// A digest from outside; `None` if an element is not canonical (≥ p), which a digest computed
/// by Poseidon never is.
pub fn hash_digest_to_digest(d: HashDigest) -> Option<Digest> {
    let mut elements = [F::ZERO; 4];
    for (out, &x) in elements.iter_mut().zip(d.0.iter()) {
        *out = field_element(x).ok()?;
    }
    Some(HashOut { elements })
}

/// A 32-byte seed as four elements: 8 bytes little-endian each, reduced mod p.
pub fn seed_elements(seed: &[u8; 32]) -> [F; 4] {
    let mut out = [F::ZERO; 4];
    for (i, chunk) in seed.chunks_exact(8).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        out[i] = F::from_noncanonical_u64(u64::from_le_bytes(b));
    }
    out
}

/// A 20-byte L1 address as five 32-bit limbs, bytes `4i..4i+4` little-endian in limb `i`.
pub fn l1_recipient_limbs(address: &[u8; 20]) -> [F; L1_RECIPIENT_LIMBS] {
    let mut out = [F::ZERO; L1_RECIPIENT_LIMBS];
    for (i, chunk) in address.chunks_exact(4).enumerate() {
        let mut b = [0u8; 4];
        b.copy_from_slice(chunk);
        out[i] = F::from_canonical_u32(u32::from_le_bytes(b));
    }
    out
}

fn tag(t: u64) -> F {
    F::from_canonical_u64(t)
}

fn hash(inputs: &[F]) -> Digest {
    PoseidonHash::hash_no_pad(inputs)
}

/// `H2(left, right)`: an internal node of either Merkle tree, and the step of the H2 chains.
pub fn two_to_one(left: Digest, right: Digest) -> Digest {
    PoseidonHash::two_to_one(left, right)
}

// ---------------------------------------------------------------------------------------------
// State tree.
// ---------------------------------------------------------------------------------------------

/// The 7 elements after the tag of an account leaf: `pk0..pk3, balance_lo, balance_hi, nonce`.
pub fn account_leaf_fields(public_key: Digest, balance: u64, nonce: u32) -> [F; 7] {
    let [lo, hi] = u64_limbs(balance);
    let pk = public_key.elements;
    [pk[0], pk[1], pk[2], pk[3], lo, hi, u32_element(nonce)]
}

/// Account leaf `H(DOMAIN_ACCOUNT, pk0..pk3, balance_lo, balance_hi, nonce)`: one permutation.
pub fn account_leaf_hash(public_key: Digest, balance: u64, nonce: u32) -> Digest {
    let fields = account_leaf_fields(public_key, balance, nonce);
    let mut inputs = [F::ZERO; 8];
    inputs[0] = tag(DOMAIN_ACCOUNT);
    inputs[1..].copy_from_slice(&fields);
    hash(&inputs)
}

/// Root of an empty subtree of each height: `[0] = ZERO`, `[i + 1] = H2([i], [i])`, up to the
/// empty state root at index 32.
pub fn empty_subtree_hashes() -> [Digest; STATE_TREE_DEPTH + 1] {
    let mut out = [ZERO; STATE_TREE_DEPTH + 1];
    for level in 0..STATE_TREE_DEPTH {
        out[level + 1] = two_to_one(out[level], out[level]);
    }
    out
}

/// Walk a Merkle path from a leaf to the root: at level `i`, bit `i` of `index` clear means the
/// current node is the left child. Used by the state tree (32 levels) and the one-time-key tree
/// (`h` levels).
pub fn merkle_root_from_path(leaf: Digest, index: u64, siblings: &[Digest]) -> Digest {
    let mut node = leaf;
    for (level, sibling) in siblings.iter().enumerate() {
        node = if (index >> level) & 1 == 0 {
            two_to_one(node, *sibling)
        } else {
            two_to_one(*sibling, node)
        };
    }
    node
}

// ---------------------------------------------------------------------------------------------
// WOTS.
// ---------------------------------------------------------------------------------------------

/// Secret chain start `H(DOMAIN_WOTS_SK, s0..s3, k, c)` for key index `k`, chain `c`.
pub fn sk_chain_start(seed: &[F; 4], key_index: u32, chain: u32) -> Digest {
    hash(&[
        tag(DOMAIN_WOTS_SK),
        seed[0],
        seed[1],
        seed[2],
        seed[3],
        u32_element(key_index),
        u32_element(chain),
    ])
}

/// Chain step `j → j + 1`: `H(x0..x3, DOMAIN_WOTS_CHAIN, k, c, j)` (one permutation).
pub fn chain_step(x: Digest, key_index: u32, chain: u32, step: u32) -> Digest {
    let e = x.elements;
    hash(&[
        e[0],
        e[1],
        e[2],
        e[3],
        tag(DOMAIN_WOTS_CHAIN),
        u32_element(key_index),
        u32_element(chain),
        u32_element(step),
    ])
}

/// Advance a chain value from position `from` to position `to` (`from ≤ to ≤ 3`).
pub fn chain_advance(mut x: Digest, key_index: u32, chain: u32, from: u32, to: u32) -> Digest {
    for step in from..to {
        x = chain_step(x, key_index, chain, step);
    }
    x
}

/// One-time public key `H(DOMAIN_WOTS_PK, k, end[0] (4 elements), …, end[132])`, the leaf of
/// the one-time-key tree.
pub fn one_time_public_key(key_index: u32, chain_ends: &[Digest; WOTS_L]) -> Digest {
    let mut inputs = Vec::with_capacity(2 + 4 * WOTS_L);
    inputs.push(tag(DOMAIN_WOTS_PK));
    inputs.push(u32_element(key_index));
    for end in chain_ends {
        inputs.extend_from_slice(&end.elements);
    }
    hash(&inputs)
}

/// The 133 digits signed for message digest `m`: for each element (canonical `u64`), 32
/// base-4 digits little-endian; then the checksum `Σ (3 − d_i)` as 5 base-4 digits
/// little-endian.
pub fn message_digits(message: Digest) -> [u8; WOTS_L] {
    let mut digits = [0u8; WOTS_L];
    let per_element = 64 / WOTS_LOG_W;
    for (i, e) in message.elements.iter().enumerate() {
        let x = e.to_canonical_u64();
        for j in 0..per_element {
            digits[i * per_element + j] = ((x >> (WOTS_LOG_W * j)) & (WOTS_W - 1)) as u8;
        }
    }
    let checksum: u64 = digits[..WOTS_L1]
        .iter()
        .map(|&d| WOTS_CHAIN_STEPS - u64::from(d))
        .sum();
    for j in 0..WOTS_L2 {
        digits[WOTS_L1 + j] = ((checksum >> (WOTS_LOG_W * j)) & (WOTS_W - 1)) as u8;
    }
    digits
}

// ---------------------------------------------------------------------------------------------
// Operation digests.
// ---------------------------------------------------------------------------------------------

/// The fields a signed operation commits to; `to` is 0 for Withdraw and `l1_recipient` all
/// zero for Transfer, so both kinds share one 16-element layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxMessage {
    /// [`KIND_TRANSFER`] or [`KIND_WITHDRAW`]: a signature for one kind is no signature for
    /// the other.
    pub kind: u64,
    /// The chain, so that a signature does not replay on another chain.
    pub chain_id: u64,
    /// The sender.
    pub from: u32,
    /// The recipient (0 for Withdraw).
    pub to: u32,
    /// The amount.
    pub amount: u64,
    /// The fee paid to the operator.
    pub fee: u64,
    /// The sender's nonce (the one-time key index).
    pub nonce: u32,
    /// The L1 recipient of a Withdraw (all zero for Transfer).
    pub l1_recipient: [u8; 20],
}

/// The 16 elements of a signed message: `DOMAIN_TX, kind, chain_id_lo, chain_id_hi, from, to,
/// amount_lo, amount_hi, fee_lo, fee_hi, nonce, r0..r4` (two permutations).
pub fn tx_message_fields(tx: &TxMessage) -> [F; 16] {
    let [c_lo, c_hi] = u64_limbs(tx.chain_id);
    let [a_lo, a_hi] = u64_limbs(tx.amount);
    let [f_lo, f_hi] = u64_limbs(tx.fee);
    let r = l1_recipient_limbs(&tx.l1_recipient);
    [
        tag(DOMAIN_TX),
        tag(tx.kind),
        c_lo,
        c_hi,
        u32_element(tx.from),
        u32_element(tx.to),
        a_lo,
        a_hi,
        f_lo,
        f_hi,
        u32_element(tx.nonce),
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
    ]
}

/// The digest a Transfer or Withdraw signature signs.
pub fn tx_message_digest(tx: &TxMessage) -> Digest {
    hash(&tx_message_fields(tx))
}

/// Deposit digest (the L1 priority-queue view): `H(DOMAIN_DEPOSIT, serial_lo, serial_hi, to,
/// has_key, pk0..pk3, amount_lo, amount_hi)`; `pk = ZERO` when `has_key = 0`.
pub fn deposit_digest(
    priority_serial: u64,
    to: u32,
    public_key: Option<Digest>,
    amount: u64,
) -> Digest {
    let [s_lo, s_hi] = u64_limbs(priority_serial);
    let [a_lo, a_hi] = u64_limbs(amount);
    let (has_key, pk) = match public_key {
        Some(pk) => (F::ONE, pk.elements),
        None => (F::ZERO, ZERO.elements),
    };
    hash(&[
        tag(DOMAIN_DEPOSIT),
        s_lo,
        s_hi,
        u32_element(to),
        has_key,
        pk[0],
        pk[1],
        pk[2],
        pk[3],
        a_lo,
        a_hi,
    ])
}

/// Withdrawal digest (what L1 pays out): `H(DOMAIN_WITHDRAWAL, from, r0..r4, amount_lo,
/// amount_hi)`. The fee stays on L2 and is not part of it.
pub fn withdrawal_digest(from: u32, l1_recipient: &[u8; 20], amount: u64) -> Digest {
    let r = l1_recipient_limbs(l1_recipient);
    let [a_lo, a_hi] = u64_limbs(amount);
    hash(&[
        tag(DOMAIN_WITHDRAWAL),
        u32_element(from),
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        a_lo,
        a_hi,
    ])
}

/// The pubdata of one operation in a fixed 13-element layout after the tag:
/// `kind, account_a, account_b, amount_lo, amount_hi, fee_lo, fee_hi, x0..x4` with
///
/// - Transfer: `a = from`, `b = to`, `x = 0`;
/// - Withdraw: `a = from`, `b = 0`, `x = recipient limbs`;
/// - Deposit: `a = to`, `b = 0`, fee `0`, `x0..x3 = pk` (or 0), `x4 = has_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pubdata {
    /// The operation's kind tag.
    pub kind: u64,
    /// `from` (Transfer, Withdraw) or `to` (Deposit).
    pub account_a: u32,
    /// `to` (Transfer), 0 otherwise.
    pub account_b: u32,
    /// The amount.
    pub amount: u64,
    /// The fee (0 for Deposit).
    pub fee: u64,
    /// `x0..x4`: the L1 recipient's limbs (Withdraw), the public key and has-key flag
    /// (Deposit), zero (Transfer).
    pub extra: [F; 5],
}

/// Pubdata digest `H(DOMAIN_PUBDATA, kind, a, b, amount_lo, amount_hi, fee_lo, fee_hi,
/// x0..x4)`.
pub fn pubdata_digest(p: &Pubdata) -> Digest {
    let [a_lo, a_hi] = u64_limbs(p.amount);
    let [f_lo, f_hi] = u64_limbs(p.fee);
    let x = p.extra;
    hash(&[
        tag(DOMAIN_PUBDATA),
        tag(p.kind),
        u32_element(p.account_a),
        u32_element(p.account_b),
        a_lo,
        a_hi,
        f_lo,
        f_hi,
        x[0],
        x[1],
        x[2],
        x[3],
        x[4],
    ])
}

/// Pubdata of a Transfer.
pub fn transfer_pubdata(from: u32, to: u32, amount: u64, fee: u64) -> Pubdata {
    Pubdata {
        kind: KIND_TRANSFER,
        account_a: from,
        account_b: to,
        amount,
        fee,
        extra: [F::ZERO; 5],
    }
}

/// Pubdata of a Withdraw.
pub fn withdraw_pubdata(from: u32, l1_recipient: &[u8; 20], amount: u64, fee: u64) -> Pubdata {
    Pubdata {
        kind: KIND_WITHDRAW,
        account_a: from,
        account_b: 0,
        amount,
        fee,
        extra: l1_recipient_limbs(l1_recipient),
    }
}

/// Pubdata of a Deposit.
pub fn deposit_pubdata(to: u32, public_key: Option<Digest>, amount: u64) -> Pubdata {
    let (has_key, pk) = match public_key {
        Some(pk) => (F::ONE, pk.elements),
        None => (F::ZERO, ZERO.elements),
    };
    Pubdata {
        kind: KIND_DEPOSIT,
        account_a: to,
        account_b: 0,
        amount,
        fee: 0,
        extra: [pk[0], pk[1], pk[2], pk[3], has_key],
    }
}

// ---------------------------------------------------------------------------------------------
// Running commitments: hash chains from ZERO, one step per item in batch order.
// ---------------------------------------------------------------------------------------------

/// Operations chain step: `H2(acc, op_digest)`, where an operation's digest is its signed
/// message digest (Transfer, Withdraw) or its deposit digest (Deposit).
pub fn operations_step(acc: Digest, operation_digest: Digest) -> Digest {
    two_to_one(acc, operation_digest)
}

/// Signed-operations chain step: `H(acc(4), msg(4), pk(4), key_index)` (13 elements). The key
/// index binds the one-time key the signature circuit verified to the nonce the state circuit
/// checked.
pub fn signed_operations_step(
    acc: Digest,
    message: Digest,
    public_key: Digest,
    key_index: u32,
) -> Digest {
    let mut inputs = [F::ZERO; 13];
    inputs[0..4].copy_from_slice(&acc.elements);
    inputs[4..8].copy_from_slice(&message.elements);
    inputs[8..12].copy_from_slice(&public_key.elements);
    inputs[12] = u32_element(key_index);
    hash(&inputs)
}

/// Deposits chain step: `H2(acc, deposit_digest)`.
pub fn deposits_step(acc: Digest, deposit: Digest) -> Digest {
    two_to_one(acc, deposit)
}

/// Withdrawals chain step: `H2(acc, withdrawal_digest)`.
pub fn withdrawals_step(acc: Digest, withdrawal: Digest) -> Digest {
    two_to_one(acc, withdrawal)
}

/// Pubdata chain step: `H2(acc, pubdata_digest)`.
pub fn pubdata_step(acc: Digest, pubdata: Digest) -> Digest {
    two_to_one(acc, pubdata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_elements_from_outside_are_checked_not_reduced() {
        assert_eq!(field_element(0), Ok(F::ZERO));
        assert_eq!(field_element(F::ORDER - 1), Ok(F::NEG_ONE));
        for x in [F::ORDER, F::ORDER + 1, u64::MAX] {
            assert_eq!(field_element(x), Err(NonCanonical(x)));
        }
        assert!(NonCanonical(u64::MAX)
            .to_string()
            .contains("not a canonical field element"));
    }

    #[test]
    fn limbs_split_every_u64() {
        for x in [0u64, 1, 0xffff_ffff, 0x1_0000_0000, u64::MAX, F::ORDER] {
            let [lo, hi] = u64_limbs(x);
            assert_eq!(lo.to_canonical_u64() | (hi.to_canonical_u64() << 32), x);
        }
    }

    #[test]
    fn digits_reconstruct_the_message_and_checksum() {
        let m = hash(&[F::from_canonical_u64(42)]);
        let digits = message_digits(m);
        for (i, e) in m.elements.iter().enumerate() {
            let mut x = 0u64;
            for j in (0..32).rev() {
                x = (x << 2) | u64::from(digits[i * 32 + j]);
            }
            assert_eq!(x, e.to_canonical_u64());
        }
        let checksum: u64 = digits[..WOTS_L1].iter().map(|&d| 3 - u64::from(d)).sum();
        let mut c = 0u64;
        for j in (0..WOTS_L2).rev() {
            c = (c << 2) | u64::from(digits[WOTS_L1 + j]);
        }
        assert_eq!(c, checksum);
        assert!(digits.iter().all(|&d| d < 4));
    }

    #[test]
    fn all_zero_message_has_maximal_checksum() {
        let digits = message_digits(ZERO);
        // Σ(3 − 0) over 128 digits = 384 = 0b01_10_00_00_00 → base-4 LE digits 0,0,0,2,1.
        assert_eq!(&digits[WOTS_L1..], &[0, 0, 0, 2, 1]);
    }

    #[test]
    fn empty_subtrees_chain_and_differ() {
        let e = empty_subtree_hashes();
        assert_eq!(e[0], ZERO);
        assert_eq!(e[1], two_to_one(ZERO, ZERO));
        assert_ne!(e[32], e[31]);
    }

    #[test]
    fn merkle_path_orientation_follows_index_bits() {
        let leaf = account_leaf_hash(ZERO, 5, 0);
        let s = [hash(&[F::ONE]), hash(&[F::TWO])];
        // index 2 = 0b10: left child at level 0, right child at level 1.
        let expected = two_to_one(s[1], two_to_one(leaf, s[0]));
        assert_eq!(merkle_root_from_path(leaf, 2, &s), expected);
    }

    #[test]
    fn digest_conversion_round_trips_and_rejects_non_canonical() {
        let d = hash(&[F::ONE, F::TWO]);
        assert_eq!(hash_digest_to_digest(digest_to_hash_digest(d)), Some(d));
        assert_eq!(hash_digest_to_digest(HashDigest([F::ORDER, 0, 0, 0])), None);
    }

    #[test]
    fn l1_recipient_limbs_are_little_endian_u32() {
        let mut a = [0u8; 20];
        a[0] = 1;
        a[7] = 2;
        a[19] = 0xff;
        let r = l1_recipient_limbs(&a);
        assert_eq!(r[0].to_canonical_u64(), 1);
        assert_eq!(r[1].to_canonical_u64(), 2 << 24);
        assert_eq!(r[4].to_canonical_u64(), 0xff << 24);
    }

    #[test]
    fn tagged_digests_of_different_kinds_differ() {
        let tx = TxMessage {
            kind: KIND_TRANSFER,
            chain_id: 1,
            from: 1,
            to: 2,
            amount: 3,
            fee: 0,
            nonce: 0,
            l1_recipient: [0; 20],
        };
        let w = TxMessage {
            kind: KIND_WITHDRAW,
            ..tx
        };
        assert_ne!(tx_message_digest(&tx), tx_message_digest(&w));
        assert_ne!(
            deposit_digest(0, 1, None, 3),
            deposit_digest(0, 1, Some(ZERO), 3)
        );
    }
}
