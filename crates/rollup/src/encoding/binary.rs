//! The compact binary encoding, for the pipeline (object store, gateway).
//!
//! All integers little-endian. Layout (version 1):
//!
//! ```text
//! magic "ZKFB" | version u16 | chain_id u64 | batch_number u32 | prev_state_root [32]
//! | operator u32 | first_priority_serial u64 | op_count u32 | op_count × operation
//! operation = kind u8 (1 deposit, 2 transfer, 3 withdraw) | body_len u32 | body
//! deposit   = priority_serial u64 | to u32 | has_key u8 (0/1) | [public_key [32] if has_key]
//!             | amount u64
//! transfer  = from u32 | to u32 | amount u64 | fee u64 | nonce u32 | signature
//! withdraw  = from u32 | amount u64 | fee u64 | nonce u32 | l1_recipient [20] | signature
//! signature = key_index u32 | height u8 | 133 × chain value [32] | height × sibling [32]
//! digest    = four canonical field elements, u64 each
//! ```
//!
//! Every length is bounded (operations ≤ 2^16, height ≤ 20) and checked against the bytes
//! present before anything is allocated; a body must be consumed exactly; no trailing bytes.

use zkfleet_types::{BatchNumber, ChainId};

use super::{DecodeError, BATCH_FORMAT_VERSION};
use crate::batch::{Batch, MAX_OPERATIONS_PER_BATCH};
use crate::operation::{Deposit, L1Address, Operation, Transfer, Withdraw};
use crate::signature::Signature;
use crate::spec::{
    digest_to_hash_digest, hash_digest_to_digest, Digest, KIND_DEPOSIT, KIND_TRANSFER,
    KIND_WITHDRAW, MAX_XMSS_HEIGHT, WOTS_L,
};
use zkfleet_types::HashDigest;

/// First four bytes of a binary batch.
pub const MAGIC: [u8; 4] = *b"ZKFB";

/// A batch that this format cannot represent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// More operations than a batch may hold.
    #[error("{count} operations, at most {MAX_OPERATIONS_PER_BATCH} allowed")]
    TooManyOperations {
        /// How many the batch holds.
        count: usize,
    },
    /// A signature without exactly `WOTS_L` chain values (the format does not store the count).
    #[error("operation {index}: signature has {got} chain values, the format holds {WOTS_L}")]
    ChainValueCount {
        /// The operation's position in the batch.
        index: usize,
        /// How many chain values its signature has.
        got: usize,
    },
    /// A signature whose key-tree height is outside the range the format bounds
    /// (`1..=MAX_XMSS_HEIGHT`), so that a decoder never allocates an unbounded path.
    #[error("operation {index}: signature height {height} is outside 1..={MAX_XMSS_HEIGHT}")]
    SignatureHeight {
        /// The operation's position in the batch.
        index: usize,
        /// The signature's key-tree height (length of its authentication path).
        height: usize,
    },
}

/// Encode a batch.
pub fn encode(batch: &Batch) -> Result<Vec<u8>, EncodeError> {
    if batch.operations.len() > MAX_OPERATIONS_PER_BATCH {
        return Err(EncodeError::TooManyOperations {
            count: batch.operations.len(),
        });
    }
    for (index, op) in batch.operations.iter().enumerate() {
        if let Some(s) = op.signature() {
            if s.chain_values.len() != WOTS_L {
                return Err(EncodeError::ChainValueCount {
                    index,
                    got: s.chain_values.len(),
                });
            }
            if !(1..=MAX_XMSS_HEIGHT).contains(&s.height()) {
                return Err(EncodeError::SignatureHeight {
                    index,
                    height: s.height(),
                });
            }
        }
    }
    let mut w = Vec::with_capacity(64 + batch.operations.len() * 4_700);
    w.extend_from_slice(&MAGIC);
    w.extend_from_slice(&BATCH_FORMAT_VERSION.to_le_bytes());
    w.extend_from_slice(&batch.chain_id.0.to_le_bytes());
    w.extend_from_slice(&batch.number.0.to_le_bytes());
    put_digest(&mut w, &batch.prev_state_root);
    w.extend_from_slice(&batch.operator.to_le_bytes());
    w.extend_from_slice(&batch.first_priority_serial.to_le_bytes());
    w.extend_from_slice(&(batch.operations.len() as u32).to_le_bytes());
    for op in &batch.operations {
        let mut body = Vec::new();
        let kind = match op {
            Operation::Deposit(d) => {
                body.extend_from_slice(&d.priority_serial.to_le_bytes());
                body.extend_from_slice(&d.to.to_le_bytes());
                match &d.public_key {
                    Some(pk) => {
                        body.push(1);
                        put_digest(&mut body, pk);
                    }
                    None => body.push(0),
                }
                body.extend_from_slice(&d.amount.to_le_bytes());
                KIND_DEPOSIT
            }
            Operation::Transfer(t) => {
                body.extend_from_slice(&t.from.to_le_bytes());
                body.extend_from_slice(&t.to.to_le_bytes());
                body.extend_from_slice(&t.amount.to_le_bytes());
                body.extend_from_slice(&t.fee.to_le_bytes());
                body.extend_from_slice(&t.nonce.to_le_bytes());
                put_signature(&mut body, &t.signature);
                KIND_TRANSFER
            }
            Operation::Withdraw(x) => {
                body.extend_from_slice(&x.from.to_le_bytes());
                body.extend_from_slice(&x.amount.to_le_bytes());
                body.extend_from_slice(&x.fee.to_le_bytes());
                body.extend_from_slice(&x.nonce.to_le_bytes());
                body.extend_from_slice(&x.l1_recipient.0);
                put_signature(&mut body, &x.signature);
                KIND_WITHDRAW
            }
        };
        w.push(kind as u8);
        w.extend_from_slice(&(body.len() as u32).to_le_bytes());
        w.extend_from_slice(&body);
    }
    Ok(w)
}

fn put_digest(w: &mut Vec<u8>, d: &Digest) {
    w.extend_from_slice(&digest_to_hash_digest(*d).to_bytes());
}

fn put_signature(w: &mut Vec<u8>, s: &Signature) {
    w.extend_from_slice(&s.key_index.to_le_bytes());
    w.push(s.auth_path.len() as u8);
    for d in s.chain_values.iter().chain(&s.auth_path) {
        put_digest(w, d);
    }
}

/// Decode a batch; any malformed or truncated input is an error naming the field and offset.
pub fn decode(bytes: &[u8]) -> Result<Batch, DecodeError> {
    let mut r = Reader { bytes, offset: 0 };
    let magic = r.take("magic", 4)?;
    if magic != MAGIC {
        return Err(DecodeError::BadMagic {
            expected: MAGIC,
            found: magic.to_vec(),
        });
    }
    let version = r.u16("version")?;
    if version != BATCH_FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: u64::from(version),
            supported: BATCH_FORMAT_VERSION,
        });
    }
    let chain_id = ChainId(r.u64("chain id")?);
    let number = BatchNumber(r.u32("batch number")?);
    let prev_state_root = r.digest("previous state root")?;
    let operator = r.u32("operator account")?;
    let first_priority_serial = r.u64("first priority serial")?;
    let count_offset = r.offset;
    let count = r.u32("operation count")? as usize;
    if count > MAX_OPERATIONS_PER_BATCH {
        return Err(DecodeError::Invalid {
            what: "operation count".into(),
            offset: count_offset,
            reason: format!("{count} operations, at most {MAX_OPERATIONS_PER_BATCH} allowed"),
        });
    }
    // Each operation takes at least 5 bytes: refuse a count the input cannot hold before
    // reserving memory for it.
    if count.saturating_mul(5) > r.remaining() {
        return Err(DecodeError::Truncated {
            what: format!("{count} operations"),
            offset: r.offset,
            needed: count * 5,
            available: r.remaining(),
        });
    }
    let mut operations = Vec::with_capacity(count);
    for i in 0..count {
        operations.push(decode_operation(&mut r, i)?);
    }
    if r.remaining() > 0 {
        return Err(DecodeError::TrailingBytes {
            offset: r.offset,
            count: r.remaining(),
        });
    }
    Ok(Batch {
        chain_id,
        number,
        prev_state_root,
        operator,
        first_priority_serial,
        operations,
    })
}

fn decode_operation(r: &mut Reader<'_>, index: usize) -> Result<Operation, DecodeError> {
    let kind_offset = r.offset;
    let kind = u64::from(r.u8(&format!("kind of operation {index}"))?);
    let body_len = r.u32(&format!("body length of operation {index}"))? as usize;
    let body_offset = r.offset;
    let body = r.take(&format!("body of operation {index}"), body_len)?;
    let mut b = Reader {
        bytes: body,
        offset: 0,
    };
    let at = |what: &str| format!("operation {index}: {what}");
    let op = match kind {
        KIND_DEPOSIT => {
            let priority_serial = b.u64(&at("priority serial"))?;
            let to = b.u32(&at("recipient"))?;
            let flag_offset = b.offset;
            let public_key = match b.u8(&at("has-key flag"))? {
                0 => None,
                1 => Some(b.digest(&at("public key"))?),
                other => {
                    return Err(DecodeError::Invalid {
                        what: at("has-key flag"),
                        offset: body_offset + flag_offset,
                        reason: format!("expected 0 or 1, found {other}"),
                    })
                }
            };
            let amount = b.u64(&at("amount"))?;
            Operation::Deposit(Deposit {
                priority_serial,
                to,
                public_key,
                amount,
            })
        }
        KIND_TRANSFER => Operation::Transfer(Transfer {
            from: b.u32(&at("sender"))?,
            to: b.u32(&at("recipient"))?,
            amount: b.u64(&at("amount"))?,
            fee: b.u64(&at("fee"))?,
            nonce: b.u32(&at("nonce"))?,
            signature: b.signature(index)?,
        }),
        KIND_WITHDRAW => Operation::Withdraw(Withdraw {
            from: b.u32(&at("sender"))?,
            amount: b.u64(&at("amount"))?,
            fee: b.u64(&at("fee"))?,
            nonce: b.u32(&at("nonce"))?,
            l1_recipient: {
                let mut a = [0u8; 20];
                a.copy_from_slice(b.take(&at("L1 recipient"), 20)?);
                L1Address(a)
            },
            signature: b.signature(index)?,
        }),
        other => {
            return Err(DecodeError::Invalid {
                what: format!("kind of operation {index}"),
                offset: kind_offset,
                reason: format!(
                    "unknown operation kind {other} (1 deposit, 2 transfer, 3 withdraw)"
                ),
            })
        }
    };
    if b.remaining() > 0 {
        return Err(DecodeError::Invalid {
            what: format!("body of operation {index}"),
            offset: body_offset,
            reason: format!(
                "declared {body_len} bytes but the {} uses {}",
                op.kind(),
                b.offset
            ),
        });
    }
    Ok(op)
}

/// A cursor over the input that reports field and offset on every failure. Offsets of a body's
/// reader are relative to the body; the operation index in the field name locates it.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    fn take(&mut self, what: &str, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                what: what.to_owned(),
                offset: self.offset,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.bytes[self.offset..self.offset + n];
        self.offset += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(what, N)?);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn digest(&mut self, what: &str) -> Result<Digest, DecodeError> {
        let offset = self.offset;
        let d = HashDigest::from_bytes(self.array(what)?);
        hash_digest_to_digest(d).ok_or_else(|| DecodeError::Invalid {
            what: what.to_owned(),
            offset,
            reason: format!("digest {d} has an element ≥ p (not a field element)"),
        })
    }

    fn signature(&mut self, index: usize) -> Result<Signature, DecodeError> {
        let key_index = self.u32(&format!("operation {index}: signature key index"))?;
        let height_offset = self.offset;
        let height = usize::from(self.u8(&format!("operation {index}: signature height"))?);
        if !(1..=MAX_XMSS_HEIGHT).contains(&height) {
            return Err(DecodeError::Invalid {
                what: format!("operation {index}: signature height"),
                offset: height_offset,
                reason: format!("{height} is outside 1..={MAX_XMSS_HEIGHT}"),
            });
        }
        let chain_values = (0..WOTS_L)
            .map(|c| self.digest(&format!("operation {index}: signature chain value {c}")))
            .collect::<Result<_, _>>()?;
        let auth_path = (0..height)
            .map(|l| self.digest(&format!("operation {index}: signature sibling {l}")))
            .collect::<Result<_, _>>()?;
        Ok(Signature {
            key_index,
            chain_values,
            auth_path,
        })
    }
}
