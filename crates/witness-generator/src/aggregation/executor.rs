//! Builds and encodes an aggregation job's witnesses: the CPU part, on a blocking thread.

use zkfleet_runner::traits::{Executor, LoadedInput};

use super::{AggregationError, AggregationJobMeta, WitnessRound};

/// Runs a round's witness building.
pub struct AggregationExecutor<R> {
    round: R,
}

impl<R: WitnessRound> AggregationExecutor<R> {
    /// The executor of `round`'s jobs.
    pub fn new(round: R) -> Self {
        Self { round }
    }
}

impl<R: WitnessRound> Executor for AggregationExecutor<R> {
    type Input = LoadedInput<R::Loaded, AggregationError>;
    /// The encoded witnesses (`AggregationWitness::to_bytes`), in sequence order.
    type Output = Vec<Vec<u8>>;
    type Metadata = AggregationJobMeta;
    type Error = AggregationError;

    fn execute(
        &self,
        loaded: LoadedInput<R::Loaded, AggregationError>,
        meta: &AggregationJobMeta,
    ) -> Result<Vec<Vec<u8>>, AggregationError> {
        // Blobs the picker could not load fail the job here, with their cause.
        let loaded = loaded?;
        let witnesses = self.round.build(loaded, meta)?;
        let mut encoded = Vec::with_capacity(witnesses.len());
        // Each witness is dropped once encoded: the job holds its proofs about twice at most.
        for (sequence, witness) in (0u32..).zip(witnesses) {
            // The key and the prover job come from the job, the witness says what it is: they
            // must agree, or the prover would refuse the blob after a whole round trip.
            if witness.round() != meta.round || witness.circuit_id() != meta.circuit {
                return Err(AggregationError::Inconsistent(format!(
                    "witness {sequence} built for {meta} is of round {}, circuit {}",
                    witness.round(),
                    witness.circuit_id()
                )));
            }
            let bytes = witness
                .to_bytes()
                .map_err(|source| AggregationError::Encode {
                    round: meta.round,
                    sequence,
                    source: Box::new(source),
                })?;
            encoded.push(bytes);
        }
        Ok(encoded)
    }
}
