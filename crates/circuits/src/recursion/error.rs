//! Errors of the recursion layers: what was wrong with the input, or which layer failed.

use zkfleet_types::CircuitId;

/// Everything that can go wrong while building, proving or checking a recursion layer.
///
/// Input errors name the child or slot at fault so that a job that fails can be diagnosed from
/// its error text alone (the pipeline stores it in the job's `error` column).
#[derive(Debug, thiserror::Error)]
pub enum RecursionError {
    /// The recursion geometry itself is unusable (arity, configuration, type list).
    #[error("invalid recursion geometry: {0}")]
    InvalidGeometry(String),

    /// A basic circuit type's description does not fit the interface of the recursion layers.
    #[error("invalid shape of basic circuit type {circuit_id}: {reason}")]
    InvalidBasicShape {
        /// The basic type.
        circuit_id: CircuitId,
        /// What does not fit.
        reason: String,
    },

    /// No leaf circuit exists for this basic circuit type.
    #[error("no leaf circuit for circuit id {0}")]
    UnknownCircuitType(CircuitId),

    /// A layer was given no child at all, or more than its arity.
    #[error("{layer} takes 1..={arity} children, got {got}")]
    ChildCount {
        /// The layer (`leaf`, `node`, ...).
        layer: &'static str,
        /// Children the layer verifies at most.
        arity: usize,
        /// Children given.
        got: usize,
    },

    /// A child's data is malformed or does not satisfy what the layer checks.
    #[error("{layer} child {index}: {reason}")]
    InvalidChild {
        /// The layer being proven.
        layer: &'static str,
        /// The child's position among the children given.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// A recursion-tip slot is malformed or inconsistent.
    #[error("recursion tip slot {index} (circuit id {circuit_id}): {reason}")]
    InvalidTipSlot {
        /// The slot's position in the tip's type list.
        index: usize,
        /// The slot's basic type.
        circuit_id: CircuitId,
        /// What is wrong with it.
        reason: String,
    },

    /// The leaf and node circuits did not converge to one common circuit shape.
    #[error("leaf and node circuits do not share one shape: {0}")]
    ShapeMismatch(String),

    /// plonky2 failed to generate the witness or the proof (also what a violated constraint
    /// looks like: conflicting witness values are reported here).
    #[error("proving the {layer} circuit failed: {reason}")]
    Proving {
        /// The circuit being proven.
        layer: &'static str,
        /// plonky2's error.
        reason: String,
    },

    /// A proof did not verify, or its public inputs do not say what they must.
    #[error("{layer} proof rejected: {reason}")]
    Verification {
        /// The circuit whose proof was checked.
        layer: &'static str,
        /// Why it was refused.
        reason: String,
    },

    /// A compression configuration is below the conjectured security target.
    #[error("compression step {step}: conjectured security {bits} bits is below {target} bits")]
    InsufficientSecurity {
        /// The step's position in the chain.
        step: usize,
        /// Its conjectured security (see `conjectured_security_bits`).
        bits: usize,
        /// The target, [`super::TARGET_SECURITY_BITS`].
        target: usize,
    },

    /// The scheduler's cross-type links do not hold (the tip's types disagree with each
    /// other or with the batch).
    #[error("scheduler link {link} does not hold: {reason}")]
    CrossTypeLink {
        /// Which link (`keys`, `types`, `signatures ↔ state`, ...).
        link: &'static str,
        /// How it fails.
        reason: String,
    },

    /// A batch public output cannot be encoded as, or read from, public inputs.
    #[error("invalid batch public output: {0}")]
    InvalidBatchOutput(String),

    /// Circuit data or a proof could not be turned into bytes or read back.
    #[error("serialization of {what} failed: {reason}")]
    Serialization {
        /// What was being encoded or decoded.
        what: &'static str,
        /// The codec's error.
        reason: String,
    },
}

impl RecursionError {
    pub(crate) fn proving(layer: &'static str, err: impl std::fmt::Display) -> Self {
        Self::Proving {
            layer,
            reason: format!("{err:#}"),
        }
    }

    pub(crate) fn verification(layer: &'static str, err: impl std::fmt::Display) -> Self {
        Self::Verification {
            layer,
            reason: format!("{err:#}"),
        }
    }

    pub(crate) fn serialization(what: &'static str, err: impl std::fmt::Debug) -> Self {
        Self::Serialization {
            what,
            reason: format!("{err:?}"),
        }
    }

    pub(crate) fn child(layer: &'static str, index: usize, reason: impl Into<String>) -> Self {
        Self::InvalidChild {
            layer,
            index,
            reason: reason.into(),
        }
    }
}

/// Runs plonky2's prover, turning a panic into an error.
///
/// Some plonky2 witness generators assert instead of returning an error when the witness cannot
/// satisfy the circuit (e.g. the limb decomposition of a proof-of-work check when a proof is
/// verified under the wrong key). A job given a bad proof must fail, not take its process down.
pub(crate) fn prove_guarded(
    layer: &'static str,
    data: &plonky2::plonk::circuit_data::CircuitData<super::F, super::C, { super::D }>,
    witness: plonky2::iop::witness::PartialWitness<super::F>,
) -> Result<
    plonky2::plonk::proof::ProofWithPublicInputs<super::F, super::C, { super::D }>,
    RecursionError,
> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| data.prove(witness))) {
        Ok(Ok(proof)) => Ok(proof),
        Ok(Err(e)) => Err(RecursionError::proving(layer, e)),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("non-text panic");
            Err(RecursionError::Proving {
                layer,
                reason: format!("witness generation aborted: {message}"),
            })
        }
    }
}
