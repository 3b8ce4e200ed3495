//! Aggregation rounds, proving stages and circuit ids.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::ParseError;

/// The five rounds of the proof tree (DESIGN.md §4). The discriminant is what the database
/// stores in `aggregation_round`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum AggregationRound {
    /// Round 0: one proof per basic circuit instance.
    Basic = 0,
    /// Round 1: one proof per chunk of basic proofs of one type.
    Leaf = 1,
    /// Round 2: one proof per chunk of leaf or node proofs of one type, at depth 0..k.
    Node = 2,
    /// Round 3: one proof per batch over the final node proof of every type.
    RecursionTip = 3,
    /// Round 4: one proof per batch with the batch public output.
    Scheduler = 4,
}

impl AggregationRound {
    /// Every round, in proving order (basic first); index = discriminant.
    pub const ALL: [AggregationRound; 5] = [
        Self::Basic,
        Self::Leaf,
        Self::Node,
        Self::RecursionTip,
        Self::Scheduler,
    ];

    /// The discriminant stored in the database's `aggregation_round` column.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The round stored as `value`, or `None` for a value no round has.
    pub fn from_u8(value: u8) -> Option<Self> {
        Self::ALL.get(value as usize).copied()
    }

    /// The name used in CLI flags, metric labels and object keys.
    pub fn name(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Leaf => "leaf",
            Self::Node => "node",
            Self::RecursionTip => "recursion_tip",
            Self::Scheduler => "scheduler",
        }
    }

    /// The round whose jobs this round's witness generation waits for (`None` for basic).
    pub fn previous(self) -> Option<Self> {
        self.as_u8().checked_sub(1).and_then(Self::from_u8)
    }

    /// The round that aggregates this round's proofs (`None` for the scheduler, whose proof
    /// goes to compression).
    pub fn next(self) -> Option<Self> {
        Self::from_u8(self.as_u8() + 1)
    }
}

impl fmt::Display for AggregationRound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AggregationRound {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normalised = s.replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|r| r.name() == normalised)
            .ok_or_else(|| {
                ParseError::new(
                    "aggregation round",
                    s,
                    "expected basic, leaf, node, recursion-tip or scheduler",
                )
            })
    }
}

/// Every step that produces a proof: the five rounds plus compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvingStage {
    /// A proof of one of the five rounds of the proof tree.
    Round(AggregationRound),
    /// The compression step: the scheduler proof wrapped into the final proof.
    Compression,
}

impl ProvingStage {
    /// The name used in metric labels and logs: the round's name, or `compression`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Round(r) => r.name(),
            Self::Compression => "compression",
        }
    }
}

impl fmt::Display for ProvingStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Circuit id as stored in the database.
///
/// Rounds 0–2 use the id of the **basic circuit type** of the branch (a leaf or node proof keeps
/// the id of the type it aggregates, as ZKsync's node jobs keep their leaf id); the recursion
/// tip and the scheduler have ids of their own. Which circuit data proves a job is decided by
/// (round, circuit id): `basic_{id}`, `leaf_{id}`, `node`, `recursion_tip`, `scheduler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CircuitId(pub u8);

impl CircuitId {
    /// Basic type: signature verification of signed operations (the heavy type).
    pub const SIGNATURE_VERIFICATION: Self = Self(1);
    /// Basic type: state transition (Merkle updates, balance and nonce rules, fees).
    pub const STATE_TRANSITION: Self = Self(2);
    /// Basic type: priority operations (the L1 deposit queue).
    pub const PRIORITY_OPERATIONS: Self = Self(3);
    /// The recursion tip (round 3).
    pub const RECURSION_TIP: Self = Self(255);
    /// The scheduler (round 4).
    pub const SCHEDULER: Self = Self(254);
    /// The compression step.
    pub const COMPRESSION: Self = Self(253);

    /// The basic circuit types, in id order.
    pub const BASIC_TYPES: [Self; 3] = [
        Self::SIGNATURE_VERIFICATION,
        Self::STATE_TRANSITION,
        Self::PRIORITY_OPERATIONS,
    ];

    /// Name for labels and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::SIGNATURE_VERIFICATION => "signature_verification",
            Self::STATE_TRANSITION => "state_transition",
            Self::PRIORITY_OPERATIONS => "priority_operations",
            Self::RECURSION_TIP => "recursion_tip",
            Self::SCHEDULER => "scheduler",
            Self::COMPRESSION => "compression",
            _ => "unknown",
        }
    }

    /// Whether this is one of the [`CircuitId::BASIC_TYPES`] (ids whose rounds 0–2 branch
    /// aggregates), rather than the recursion tip, the scheduler or compression.
    pub fn is_basic_type(self) -> bool {
        Self::BASIC_TYPES.contains(&self)
    }
}

impl fmt::Display for CircuitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_round_trip() {
        for r in AggregationRound::ALL {
            assert_eq!(AggregationRound::from_u8(r.as_u8()), Some(r));
            assert_eq!(r.name().parse::<AggregationRound>().unwrap(), r);
        }
        assert_eq!(
            "recursion-tip".parse::<AggregationRound>().unwrap(),
            AggregationRound::RecursionTip
        );
        assert!("compression".parse::<AggregationRound>().is_err());
        assert_eq!(AggregationRound::Basic.previous(), None);
        assert_eq!(
            AggregationRound::Leaf.previous(),
            Some(AggregationRound::Basic)
        );
        assert_eq!(AggregationRound::Scheduler.next(), None);
        assert_eq!(AggregationRound::from_u8(5), None);
    }
}
