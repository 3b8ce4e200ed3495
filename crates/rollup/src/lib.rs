//! The reference rollup: state tree, signatures, operations, batch execution (native, no circuits).
