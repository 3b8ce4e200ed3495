//! Circuit prover: witness-vector generators (heavy and light) feeding a prover.
