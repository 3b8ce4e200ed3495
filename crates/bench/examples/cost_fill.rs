//! How many items fill a basic circuit's degree: the gate count of each basic circuit type at a
//! range of capacities (defined only, before plonky2's `build` adds its public-input hash,
//! constants and padding), and the built degree at the capacities asked for. Used to choose the
//! geometry sweep's candidates for issue 18 (docs/benchmarks.md, "Geometry sweep").
//!
//! ```text
//! cargo run --release -p zkfleet-bench --example cost_fill -- KIND FROM TO [BUILD,...]
//! ```
//!
//! KIND is `signatures`, `operations` or `deposits`; every capacity FROM..=TO prints its gates,
//! and each capacity in BUILD is built (seconds to minutes at 2^16) and prints its degree.

// An example links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use zkfleet_circuits::basic::{define, BasicCircuit, BasicCircuitKind};
use zkfleet_circuits::BasicGeometry;

fn geometry_with(kind: BasicCircuitKind, capacity: u32) -> BasicGeometry {
    let mut geometry = BasicGeometry::default();
    match kind {
        BasicCircuitKind::SignatureVerification => geometry.signatures_per_instance = capacity,
        BasicCircuitKind::StateTransition => geometry.operations_per_instance = capacity,
        BasicCircuitKind::PriorityOperations => geometry.deposits_per_instance = capacity,
    }
    geometry
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: cost_fill signatures|operations|deposits FROM TO [BUILD,...]";
    let (Some(kind), Some(from), Some(to)) = (args.first(), args.get(1), args.get(2)) else {
        return Err(usage.into());
    };
    let kind = match kind.as_str() {
        "signatures" => BasicCircuitKind::SignatureVerification,
        "operations" => BasicCircuitKind::StateTransition,
        "deposits" => BasicCircuitKind::PriorityOperations,
        other => return Err(format!("unknown kind {other:?}; {usage}").into()),
    };
    let (from, to): (u32, u32) = (from.parse()?, to.parse()?);
    for capacity in from..=to {
        let (builder, _) = define(kind, &geometry_with(kind, capacity))?;
        println!("{} {capacity}: {} gates", kind.name(), builder.num_gates());
    }
    if let Some(list) = args.get(3) {
        for capacity in list.split(',') {
            let capacity: u32 = capacity.parse()?;
            let circuit = BasicCircuit::build(kind, &geometry_with(kind, capacity))?;
            println!(
                "{} {capacity}: built at 2^{}",
                kind.name(),
                circuit.degree_bits()
            );
        }
    }
    Ok(())
}
