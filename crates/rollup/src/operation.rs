//! The rollup's operations: `Deposit` (L1 priority queue, unsigned), `Transfer` and `Withdraw`
//! (signed with the sender's one-time key = nonce, fee paid to the batch's operator account),
//! and the digests each contributes to the batch's running commitments (docs/rollup.md §4).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

use crate::signature::Signature;
use crate::spec::{
    deposit_digest, deposit_pubdata, pubdata_digest, transfer_pubdata, tx_message_digest,
    withdraw_pubdata, withdrawal_digest, Digest, TxMessage, KIND_TRANSFER, KIND_WITHDRAW,
};
use crate::state::AccountId;

/// A 20-byte L1 address (a withdrawal's recipient), written `0x` + 40 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct L1Address(pub [u8; 20]);

impl fmt::Display for L1Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl FromStr for L1Address {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s.strip_prefix("0x").unwrap_or(s))
            .map_err(|e| format!("L1 address {s:?} is not hex: {e}"))?;
        let bytes: [u8; 20] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("L1 address {s:?} has {} bytes, expected 20", b.len()))?;
        Ok(Self(bytes))
    }
}

impl Serialize for L1Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for L1Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Which operation, for errors and statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    /// A [`Deposit`].
    Deposit,
    /// A [`Transfer`].
    Transfer,
    /// A [`Withdraw`].
    Withdraw,
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Deposit => "deposit",
            Self::Transfer => "transfer",
            Self::Withdraw => "withdraw",
        })
    }
}

/// A deposit from the L1 priority queue: credits `amount` to `to`; creates the account if the
/// leaf is empty, which needs `public_key`. Unsigned: L1 authorised it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    /// Position in the L1 priority queue; a batch consumes serials in order without gaps.
    pub priority_serial: u64,
    /// The account credited.
    pub to: AccountId,
    /// The public key of the account to create; must be the account's key if it exists, and
    /// is required if it does not.
    #[serde(with = "crate::digest_serde::option")]
    pub public_key: Option<Digest>,
    /// The amount credited.
    pub amount: u64,
}

/// A signed L2 payment of `amount` from `from` to `to`, plus `fee` to the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// The sender, who signs and pays amount + fee.
    pub from: AccountId,
    /// The recipient; must already exist.
    pub to: AccountId,
    /// The amount moved to `to`.
    pub amount: u64,
    /// The fee credited to the batch's operator.
    pub fee: u64,
    /// The sender's nonce, which is also the one-time key that signs.
    pub nonce: u32,
    /// The sender's signature of [`Transfer::message`].
    pub signature: Signature,
}

/// A signed exit of `amount` from `from` to `l1_recipient` on L1, plus `fee` to the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdraw {
    /// The sender, who signs and pays amount + fee.
    pub from: AccountId,
    /// The amount leaving the rollup (paid out on L1).
    pub amount: u64,
    /// The fee credited to the batch's operator.
    pub fee: u64,
    /// The sender's nonce, which is also the one-time key that signs.
    pub nonce: u32,
    /// Who receives `amount` on L1.
    pub l1_recipient: L1Address,
    /// The sender's signature of [`Withdraw::message`].
    pub signature: Signature,
}

/// One operation of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Operation {
    /// A deposit from the L1 priority queue.
    Deposit(Deposit),
    /// A signed L2 payment.
    Transfer(Transfer),
    /// A signed exit to L1.
    Withdraw(Withdraw),
}

impl Transfer {
    /// The message the sender signs.
    pub fn message(&self, chain_id: u64) -> TxMessage {
        TxMessage {
            kind: KIND_TRANSFER,
            chain_id,
            from: self.from,
            to: self.to,
            amount: self.amount,
            fee: self.fee,
            nonce: self.nonce,
            l1_recipient: [0; 20],
        }
    }
}

impl Withdraw {
    /// The message the sender signs (`to` = 0).
    pub fn message(&self, chain_id: u64) -> TxMessage {
        TxMessage {
            kind: KIND_WITHDRAW,
            chain_id,
            from: self.from,
            to: 0,
            amount: self.amount,
            fee: self.fee,
            nonce: self.nonce,
            l1_recipient: self.l1_recipient.0,
        }
    }
}

impl Deposit {
    /// The digest the L1 priority queue commits to.
    pub fn digest(&self) -> Digest {
        deposit_digest(self.priority_serial, self.to, self.public_key, self.amount)
    }
}

impl Operation {
    /// Which operation this is.
    pub fn kind(&self) -> OperationKind {
        match self {
            Self::Deposit(_) => OperationKind::Deposit,
            Self::Transfer(_) => OperationKind::Transfer,
            Self::Withdraw(_) => OperationKind::Withdraw,
        }
    }

    /// The signed message, for Transfer and Withdraw.
    pub fn message(&self, chain_id: u64) -> Option<TxMessage> {
        match self {
            Self::Deposit(_) => None,
            Self::Transfer(t) => Some(t.message(chain_id)),
            Self::Withdraw(w) => Some(w.message(chain_id)),
        }
    }

    /// The signed message digest, for Transfer and Withdraw.
    pub fn message_digest(&self, chain_id: u64) -> Option<Digest> {
        self.message(chain_id).map(|m| tx_message_digest(&m))
    }

    /// The signature, for Transfer and Withdraw.
    pub fn signature(&self) -> Option<&Signature> {
        match self {
            Self::Deposit(_) => None,
            Self::Transfer(t) => Some(&t.signature),
            Self::Withdraw(w) => Some(&w.signature),
        }
    }

    /// The item of the operations chain: the signed message digest, or the deposit digest.
    pub fn operation_digest(&self, chain_id: u64) -> Digest {
        match self {
            Self::Deposit(d) => d.digest(),
            Self::Transfer(t) => tx_message_digest(&t.message(chain_id)),
            Self::Withdraw(w) => tx_message_digest(&w.message(chain_id)),
        }
    }

    /// The item of the pubdata chain.
    pub fn pubdata_digest(&self) -> Digest {
        pubdata_digest(&match self {
            Self::Deposit(d) => deposit_pubdata(d.to, d.public_key, d.amount),
            Self::Transfer(t) => transfer_pubdata(t.from, t.to, t.amount, t.fee),
            Self::Withdraw(w) => withdraw_pubdata(w.from, &w.l1_recipient.0, w.amount, w.fee),
        })
    }

    /// The item of the withdrawals chain, for Withdraw.
    pub fn withdrawal_digest(&self) -> Option<Digest> {
        match self {
            Self::Withdraw(w) => Some(withdrawal_digest(w.from, &w.l1_recipient.0, w.amount)),
            _ => None,
        }
    }

    /// The item of the deposits chain, for Deposit.
    pub fn deposit_digest(&self) -> Option<Digest> {
        match self {
            Self::Deposit(d) => Some(d.digest()),
            _ => None,
        }
    }
}
