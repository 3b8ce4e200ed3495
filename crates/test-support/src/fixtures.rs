//! Fixture batches: small generated batches, found deterministically (the first seed that
//! gives what a test needs), so that every run proves the same batch.

use std::ops::Range;

use zkfleet_rollup::execute::{execute_batch, ExecutedBatch};
use zkfleet_rollup::generate::{generate, Generated, GeneratorConfig};
use zkfleet_rollup::operation::Operation;

/// How many seeds a search tries before giving up.
pub const SEEDS: Range<u64> = 0..200;

/// A generated batch, executed from its genesis state.
pub struct Fixture {
    /// The batch, its genesis state and its keys, as generated.
    pub generated: Generated,
    /// The batch executed from its genesis state.
    pub executed: ExecutedBatch,
}

/// Generates and executes `template` with `seed` (the template's own seed is ignored).
pub fn generate_and_execute(template: &GeneratorConfig, seed: u64) -> Fixture {
    let generated = generate(&GeneratorConfig {
        seed,
        ..template.clone()
    })
    .expect("generate a batch");
    let mut state = generated.genesis.to_memory_state().expect("genesis state");
    let executed = execute_batch(&mut state, &generated.batch).expect("a valid batch executes");
    Fixture {
        generated,
        executed,
    }
}

/// The first batch of `template` over `seeds` (usually [`SEEDS`]) that `accept` takes.
pub fn first_batch(
    template: &GeneratorConfig,
    seeds: Range<u64>,
    what: &str,
    accept: impl Fn(&Fixture) -> bool,
) -> Fixture {
    for seed in seeds.clone() {
        let fixture = generate_and_execute(template, seed);
        if accept(&fixture) {
            return fixture;
        }
    }
    panic!("no seed in {seeds:?} gives a batch with {what}");
}

/// Deposits and signed operations (transfers, withdrawals) in a batch.
pub fn kinds_in(executed: &ExecutedBatch) -> (usize, usize) {
    let ops = &executed.witness.operations;
    let deposits = ops
        .iter()
        .filter(|o| matches!(o.operation, Operation::Deposit(_)))
        .count();
    let signed = ops.iter().filter(|o| o.signed.is_some()).count();
    (deposits, signed)
}

/// The first batch of `template` with at least one deposit and one signed operation, so that
/// every basic circuit type has an instance.
pub fn batch_with_every_type(template: &GeneratorConfig, seeds: Range<u64>) -> Fixture {
    first_batch(
        template,
        seeds,
        "deposits and signed operations",
        |fixture| {
            let (deposits, signed) = kinds_in(&fixture.executed);
            deposits >= 1 && signed >= 1
        },
    )
}
