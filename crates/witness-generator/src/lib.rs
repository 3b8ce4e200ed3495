//! Witness generation for the five aggregation rounds.
