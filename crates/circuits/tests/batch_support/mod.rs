//! Small generated batches shared by the whole-batch tests (batch.rs, pipeline.rs).

use zkfleet_circuits::BasicGeometry;
use zkfleet_rollup::execute::{execute_batch, ExecutedBatch};
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_rollup::operation::Operation;

/// 1 operation, 2 signatures, 2 deposits per instance, XMSS height 2: circuits build in seconds.
pub const GEOMETRY: BasicGeometry = BasicGeometry {
    signatures_per_instance: 2,
    operations_per_instance: 1,
    deposits_per_instance: 2,
    xmss_height: 2,
};
pub const ARITY: usize = 2;
/// Operations of the batch: 5 state instances → 3 leaves → nodes at depth 0 (2) and 1 (1).
pub const OPERATIONS: usize = 5;

fn kinds_in(executed: &ExecutedBatch) -> (usize, usize) {
    let ops = &executed.witness.operations;
    let deposits = ops
        .iter()
        .filter(|o| matches!(o.operation, Operation::Deposit(_)))
        .count();
    let signed = ops.iter().filter(|o| o.signed.is_some()).count();
    (deposits, signed)
}

/// The first batch from `seeds` with at least one deposit and one signed operation.
pub fn batch_with_every_type(seeds: std::ops::Range<u64>) -> ExecutedBatch {
    for seed in seeds.clone() {
        let generated = generate(&GeneratorConfig {
            accounts: 4,
            operations: OPERATIONS,
            seed,
            tree_height: GEOMETRY.xmss_height as usize,
            ..GeneratorConfig::default()
        })
        .expect("generator");
        let mut state = generated.genesis.to_memory_state().expect("genesis");
        let executed = execute_batch(&mut state, &generated.batch).expect("valid batch");
        let (deposits, signed) = kinds_in(&executed);
        if deposits >= 1 && signed >= 1 {
            return executed;
        }
    }
    panic!("no seed in {seeds:?} gives a batch with deposits and signed operations");
}
