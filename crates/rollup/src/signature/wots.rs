//! Winternitz one-time signatures (w = 4): 133 hash chains of 3 steps per one-time key.
//!
//! A one-time key `k` of an account with seed `s` has chain starts `sk[k][c]` derived from the
//! seed; its public key is the hash of the 133 chain ends. Signing digit `d_c` reveals chain `c`
//! at position `d_c`; verifying advances it the remaining `3 − d_c` steps. The checksum digits
//! make every other message need at least one chain *reversed*, which is what one-time
//! security rests on — and why a key must never sign twice.

use crate::spec::{
    chain_advance, message_digits, one_time_public_key, sk_chain_start, Digest, WOTS_CHAIN_STEPS,
    WOTS_L,
};

/// The 133 chain starts of one-time key `key_index`.
fn chain_starts(seed: &[crate::spec::F; 4], key_index: u32) -> [Digest; WOTS_L] {
    std::array::from_fn(|c| sk_chain_start(seed, key_index, c as u32))
}

/// The one-time public key (leaf of the one-time-key tree) of key `key_index`: 133 chain starts,
/// 399 chain steps and one 534-element hash.
pub fn public_key(seed: &[crate::spec::F; 4], key_index: u32) -> Digest {
    let starts = chain_starts(seed, key_index);
    let ends: [Digest; WOTS_L] = std::array::from_fn(|c| {
        chain_advance(starts[c], key_index, c as u32, 0, WOTS_CHAIN_STEPS as u32)
    });
    one_time_public_key(key_index, &ends)
}

/// The 133 chain values signing `message` with one-time key `key_index`: chain `c` advanced to
/// position `d_c`.
pub fn sign(seed: &[crate::spec::F; 4], key_index: u32, message: Digest) -> [Digest; WOTS_L] {
    let digits = message_digits(message);
    let starts = chain_starts(seed, key_index);
    std::array::from_fn(|c| chain_advance(starts[c], key_index, c as u32, 0, u32::from(digits[c])))
}

/// The one-time public key a signature implies: each chain value advanced from `d_c` to the
/// chain end, then hashed. A valid signature gives the key's leaf; anything else gives an
/// unrelated digest.
pub fn public_key_from_signature(
    key_index: u32,
    message: Digest,
    chain_values: &[Digest; WOTS_L],
) -> Digest {
    let digits = message_digits(message);
    let ends: [Digest; WOTS_L] = std::array::from_fn(|c| {
        chain_advance(
            chain_values[c],
            key_index,
            c as u32,
            u32::from(digits[c]),
            WOTS_CHAIN_STEPS as u32,
        )
    });
    one_time_public_key(key_index, &ends)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{seed_elements, tx_message_digest, TxMessage, KIND_TRANSFER};

    fn message(amount: u64) -> Digest {
        tx_message_digest(&TxMessage {
            kind: KIND_TRANSFER,
            chain_id: 7,
            from: 1,
            to: 2,
            amount,
            fee: 1,
            nonce: 0,
            l1_recipient: [0; 20],
        })
    }

    #[test]
    fn signature_implies_the_one_time_public_key() {
        let seed = seed_elements(&[9u8; 32]);
        let m = message(100);
        let sig = sign(&seed, 3, m);
        assert_eq!(public_key_from_signature(3, m, &sig), public_key(&seed, 3));
    }

    #[test]
    fn wrong_message_or_index_implies_another_key() {
        let seed = seed_elements(&[9u8; 32]);
        let m = message(100);
        let sig = sign(&seed, 3, m);
        let pk = public_key(&seed, 3);
        assert_ne!(public_key_from_signature(3, message(101), &sig), pk);
        assert_ne!(public_key_from_signature(4, m, &sig), pk);
    }
}
