//! The shape of one basic type's aggregation tree, from its instance count and the arity.
//!
//! Leaves take up to `arity` basic proofs each, in sequence order; node depth 0 takes up to
//! `arity` leaf proofs; node depth d > 0 takes up to `arity` node proofs of depth d − 1; the
//! first depth with a single job gives the type's final node proof (even when only one leaf
//! was needed: the recursion tip takes node proofs only). The job database only records how
//! many proofs a job waits for once the previous job ran; this is what every count must be,
//! computed from round 0's summary alone, so that a job whose row lists other proofs is refused.

use super::AggregationError;

/// Job counts of one type's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregationTree {
    /// Leaf prover jobs (one per chunk of `arity` basic proofs).
    pub leaves: u32,
    /// Node prover jobs per depth; the last entry is 1 (the final node proof).
    pub nodes: Vec<u32>,
}

impl AggregationTree {
    /// The tree of a type with `instances` basic circuits (≥ 1) at `arity` (≥ 2).
    pub fn of(instances: u32, arity: u32) -> Result<Self, AggregationError> {
        if instances == 0 || arity < 2 {
            return Err(AggregationError::Inconsistent(format!(
                "no aggregation tree for {instances} instances at arity {arity}"
            )));
        }
        let leaves = instances.div_ceil(arity);
        let mut nodes = vec![leaves.div_ceil(arity)];
        while let Some(&last) = nodes.last().filter(|&&n| n > 1) {
            nodes.push(last.div_ceil(arity));
        }
        Ok(Self { leaves, nodes })
    }

    /// The depth of the final node proof.
    pub fn final_depth(&self) -> u32 {
        // `nodes` is never empty.
        u32::try_from(self.nodes.len() - 1).unwrap_or(u32::MAX)
    }

    /// How many proofs the node job at `depth` aggregates (leaf proofs at depth 0), or `None`
    /// past the final depth.
    pub fn node_children(&self, depth: u32) -> Option<u32> {
        let depth = usize::try_from(depth).ok()?;
        if depth >= self.nodes.len() {
            return None;
        }
        Some(if depth == 0 {
            self.leaves
        } else {
            self.nodes[depth - 1]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_depth() {
        // 5 instances at arity 2: leaves 3, node depth 0: 2, depth 1: 1.
        let tree = AggregationTree::of(5, 2).expect("tree");
        assert_eq!(tree.leaves, 3);
        assert_eq!(tree.nodes, [2, 1]);
        assert_eq!(tree.final_depth(), 1);
        assert_eq!(tree.node_children(0), Some(3));
        assert_eq!(tree.node_children(1), Some(2));
        assert_eq!(tree.node_children(2), None);

        // One leaf still gets one node job: the tip takes node proofs only.
        let single = AggregationTree::of(2, 2).expect("tree");
        assert_eq!((single.leaves, single.nodes.clone()), (1, vec![1]));
        assert_eq!(single.final_depth(), 0);

        let wide = AggregationTree::of(100, 4).expect("tree");
        assert_eq!((wide.leaves, wide.nodes), (25, vec![7, 2, 1]));

        assert!(AggregationTree::of(0, 2).is_err());
        assert!(AggregationTree::of(3, 1).is_err());
    }
}
