//! Recursion cost per aggregated child (issue #7, item 5): the node job's time at the
//! configuration's arity divided by that arity, against the 0.75–0.83 s per child a plain
//! plonky2 2^12 aggregation costs (proof-system-notes.md §1.4, measured on this project's
//! machines with plonky2's own recursive verifier and nothing else in the circuit).
//!
//! The node figures come from the proving-cost measurement of the node job (ours and plonky2's
//! `prove` on the same node), so both suites agree by construction.

use serde::{Deserialize, Serialize};

use crate::figure::Figure;
use crate::probe::round3;
use crate::proving_cost::ProvingCostReport;
use crate::report::MachineInfo;

/// Seconds per child of a plain plonky2 2^12 aggregation: the anchor's range.
pub const ANCHOR_PER_CHILD_S: (f64, f64) = (0.75, 0.83);

/// The per-child cost at the measured arity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecursionPerChildReport {
    /// Children per node proof.
    pub arity: u32,
    /// log2 of the node circuit's rows.
    pub node_degree_bits: usize,
    /// The node job, our path (s).
    pub node_s: Figure,
    /// Our path ÷ arity, per run (s).
    pub per_child_s: Figure,
    /// plonky2's `prove` on the same node ÷ arity, per run (s).
    pub plonky2_per_child_s: Figure,
    /// The anchor: seconds per child of a plain plonky2 2^12 aggregation (low, high).
    pub anchor_per_child_s: (f64, f64),
    /// Median per child ÷ the anchor's upper bound.
    pub ratio_to_anchor_high: f64,
    /// Median per child ÷ the anchor's lower bound.
    pub ratio_to_anchor_low: f64,
    /// The median per child is within the anchor or below it.
    pub within_anchor: bool,
    /// The machine and its load during the measurement: the anchor was taken on 2 contended
    /// vCPUs, so a more loaded machine can put us above it.
    pub machine: MachineInfo,
    /// The commit the binary was built from.
    pub git_commit: String,
    /// When the suite ran (`YYYY-MM-DD HH:MM UTC`).
    pub date: String,
}

impl RecursionPerChildReport {
    /// From a proving-cost report that measured the node; `None` when it did not.
    pub fn from_proving_cost(report: &ProvingCostReport) -> Option<Self> {
        let node = report.jobs.iter().find(|j| j.job == "node")?;
        let arity = report.configuration.arity;
        let per = |figure: &Figure| {
            Figure::of(
                figure
                    .runs
                    .iter()
                    .map(|s| s / f64::from(arity.max(1)))
                    .collect(),
            )
        };
        let per_child_s = per(&node.ours_s);
        let (low, high) = ANCHOR_PER_CHILD_S;
        Some(Self {
            arity,
            node_degree_bits: node.degree_bits,
            node_s: node.ours_s.clone(),
            plonky2_per_child_s: per(&node.plonky2_prove_s),
            ratio_to_anchor_high: round3(per_child_s.median / high),
            ratio_to_anchor_low: round3(per_child_s.median / low),
            within_anchor: per_child_s.median <= high,
            per_child_s,
            anchor_per_child_s: ANCHOR_PER_CHILD_S,
            machine: report.machine.clone(),
            git_commit: report.git_commit.clone(),
            date: report.date.clone(),
        })
    }
}
