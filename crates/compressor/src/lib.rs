//! Compressor: re-proves the scheduler proof into the final, size-optimised proof.
