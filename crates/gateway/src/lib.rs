//! Gateway: receives batch inputs over HTTP and returns final proofs.
