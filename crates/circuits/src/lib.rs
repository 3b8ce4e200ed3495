//! plonky2 circuits of every round and the keystore of their circuit data.
