//! The in-process prover of a whole batch: basic → leaf → node … → tip → scheduler →
//! compression, for a batch of any size.
//!
//! [`BatchCircuits`] holds every circuit of one configuration (basic geometry, arity,
//! compression chain), built once; [`prove_to_tip`] cuts an executed batch into basic instances
//! (`basic::split_batch`), proves each of them, aggregates each type level by level, proves the
//! tip (types without items marked absent), the scheduler and the compression chain, verifies
//! the final proof and checks that the batch output it attests is the one the native execution
//! computed. Tests and single-machine setups use it; the distributed pipeline runs the same
//! steps as separate jobs.

use std::time::{Duration, Instant};

use plonky2::field::types::{Field, PrimeField64};
use plonky2::util::serialization::{Buffer, Read};
use rayon::prelude::*;
use zkfleet_rollup::execute::ExecutedBatch;
use zkfleet_types::{BatchPublicOutput, CircuitId};

use super::codec;
use super::compression::{CompressionChain, CompressionCircuit, CompressionStep};
use super::scheduler::{SchedulerCircuit, SchedulerProof};
use super::setup::RecursionCircuits;
use super::shape::{BasicProof, BasicTypeShape};
use super::tip::{TipProof, TipSlot};
use super::vk::verifying_key_digest;
use super::{RecursionError, RecursionProof, F};
use crate::basic::priority::{PRIORITY_INPUT_LEN, PRIORITY_OUTPUT_LEN};
use crate::basic::signature::{SIGNATURE_INPUT_LEN, SIGNATURE_OUTPUT_LEN};
use crate::basic::state::{STATE_INPUT_LEN, STATE_OUTPUT_LEN};
use crate::basic::{split_batch, BasicCircuit, BasicCircuitKind, ClosedForm};
use crate::config::BasicGeometry;
use crate::error::CircuitError;

/// Why a batch could not be proven.
#[derive(Debug, thiserror::Error)]
pub enum BatchProofError {
    /// Cutting the batch or proving a basic instance failed.
    #[error("basic round: {0}")]
    Basic(#[from] CircuitError),
    /// A recursion layer, the scheduler or the compression chain failed.
    #[error(transparent)]
    Recursion(#[from] RecursionError),
    /// The batch has no operation at all: there is nothing to prove.
    #[error("the batch has no operation; an empty batch has no proof")]
    EmptyBatch,
    /// The final proof attests another output than the native execution computed.
    #[error("the final proof attests {proved:?}, the executed batch is {expected:?}")]
    OutputMismatch {
        /// The output native execution computed.
        expected: Box<BatchPublicOutput>,
        /// The output the final proof's public inputs carry.
        proved: Box<BatchPublicOutput>,
    },
}

/// Every circuit of one proving configuration, built once.
#[derive(Debug)]
pub struct BatchCircuits {
    geometry: BasicGeometry,
    /// One per basic type, in `BasicCircuitKind::ALL` order (the tip's order).
    basic: Vec<BasicCircuit>,
    recursion: RecursionCircuits,
    scheduler: SchedulerCircuit,
    compression: CompressionChain,
}

/// The recursion layers' view of a basic circuit.
///
/// The state type's input has three run constants after its six commitments (chain id lo/hi,
/// operator) that its output does not repeat; they are the tail of its carried closed form
/// (see [`BasicTypeShape`]).
pub fn basic_type_shape(circuit: &BasicCircuit) -> BasicTypeShape {
    let (closed_form_len, public_output_len) = match circuit.kind {
        BasicCircuitKind::SignatureVerification => (SIGNATURE_INPUT_LEN, SIGNATURE_OUTPUT_LEN),
        BasicCircuitKind::StateTransition => (STATE_INPUT_LEN, STATE_OUTPUT_LEN),
        BasicCircuitKind::PriorityOperations => (PRIORITY_INPUT_LEN, PRIORITY_OUTPUT_LEN),
    };
    BasicTypeShape {
        circuit_id: circuit.circuit_id(),
        closed_form_len,
        public_output_len,
        instance_capacity: u64::from(circuit.capacity()),
        common: circuit.data.common.clone(),
        verifier_only: circuit.data.verifier_only.clone(),
    }
}

impl BatchCircuits {
    /// Builds the basic circuits at `geometry`, the recursion circuits at `arity`, the
    /// scheduler and the compression chain `steps` (minutes at production sizes).
    pub fn build(
        geometry: &BasicGeometry,
        arity: usize,
        steps: &[CompressionStep],
    ) -> Result<Self, BatchProofError> {
        let basic = BasicCircuitKind::ALL
            .into_iter()
            .map(|kind| BasicCircuit::build(kind, geometry))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_basic(basic, arity, steps)
    }

    /// Builds everything above round 0 over already built (or keystore-loaded) basic circuits,
    /// one per type in any order.
    pub fn from_basic(
        mut basic: Vec<BasicCircuit>,
        arity: usize,
        steps: &[CompressionStep],
    ) -> Result<Self, BatchProofError> {
        basic.sort_by_key(|c| c.kind);
        let kinds: Vec<BasicCircuitKind> = basic.iter().map(|c| c.kind).collect();
        if kinds != BasicCircuitKind::ALL {
            return Err(RecursionError::InvalidGeometry(format!(
                "one basic circuit per type is needed, got {kinds:?}"
            ))
            .into());
        }
        let geometry = basic[0].geometry;
        if basic.iter().any(|c| c.geometry != geometry) {
            return Err(RecursionError::InvalidGeometry(
                "the basic circuits were built at different geometries".into(),
            )
            .into());
        }
        let shapes: Vec<BasicTypeShape> = basic.iter().map(basic_type_shape).collect();
        let recursion = RecursionCircuits::build(&shapes, arity)?;
        let scheduler = SchedulerCircuit::build(&recursion)?;
        let data = scheduler.circuit_data();
        let compression = CompressionChain::build(steps, &data.common, &data.verifier_only)?;
        Ok(Self {
            geometry,
            basic,
            recursion,
            scheduler,
            compression,
        })
    }

    /// The geometry of the basic circuits.
    pub fn geometry(&self) -> &BasicGeometry {
        &self.geometry
    }

    /// The basic circuit of `kind`.
    pub fn basic(&self, kind: BasicCircuitKind) -> &BasicCircuit {
        // `from_basic` keeps exactly one circuit per kind, in `ALL` order.
        &self.basic[BasicCircuitKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or_default()]
    }

    /// The leaf, node and recursion-tip circuits.
    pub fn recursion(&self) -> &RecursionCircuits {
        &self.recursion
    }

    /// The scheduler circuit.
    pub fn scheduler(&self) -> &SchedulerCircuit {
        &self.scheduler
    }

    /// The compression chain after the scheduler.
    pub fn compression(&self) -> &CompressionChain {
        &self.compression
    }

    /// Verifies final proof bytes and returns the batch output they attest.
    pub fn verify_final(&self, proof_bytes: &[u8]) -> Result<BatchPublicOutput, RecursionError> {
        let common = &self.compression.final_circuit().circuit_data().common;
        let proof =
            plonky2::plonk::proof::ProofWithPublicInputs::from_bytes(proof_bytes.to_vec(), common)
                .map_err(|e| RecursionError::serialization("final proof", e))?;
        let public_inputs = self.compression.verify_final(&proof)?;
        super::scheduler::decode_public_output(&public_inputs)
    }
}

impl BatchCircuits {
    /// Encodes every circuit above round 0 (recursion circuits, scheduler, compression steps)
    /// with plonky2's default serializers; the basic circuits live in the keystore.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RecursionError> {
        let mut out = Vec::new();
        codec::write_header(&mut out, b"BTCH");
        codec::write_blob(&mut out, &self.recursion.to_bytes()?);
        codec::write_blob(&mut out, &self.scheduler.to_bytes()?);
        // The key the chain was built for: a constant inside its first step, recorded here so
        // that a chain of another scheduler is refused on reading.
        let key = verifying_key_digest(&self.scheduler.circuit_data().verifier_only);
        for e in key.elements {
            out.extend_from_slice(&e.to_canonical_u64().to_le_bytes());
        }
        codec::write_usize(&mut out, self.compression.steps().len());
        for step in self.compression.steps() {
            codec::write_blob(&mut out, &step.to_bytes()?);
        }
        Ok(out)
    }

    /// Reads what [`Self::to_bytes`] wrote, over `basic` (one circuit per type), and checks
    /// that the parts belong together.
    pub fn from_bytes(basic: Vec<BasicCircuit>, bytes: &[u8]) -> Result<Self, BatchProofError> {
        const WHAT: &str = "batch circuits";
        let inconsistent = |reason: &str| RecursionError::Serialization {
            what: WHAT,
            reason: reason.to_owned(),
        };
        let mut buffer = Buffer::new(bytes);
        codec::read_header(&mut buffer, b"BTCH", WHAT)?;
        let recursion_blob = codec::read_blob(&mut buffer, WHAT)?;
        let scheduler_blob = codec::read_blob(&mut buffer, WHAT)?;
        let mut key = [0u64; 4];
        for e in &mut key {
            let mut b = [0u8; 8];
            buffer
                .read_exact(&mut b)
                .map_err(|e| RecursionError::serialization(WHAT, e))?;
            *e = u64::from_le_bytes(b);
        }
        let steps = codec::read_usize(&mut buffer, WHAT)?;
        let mut step_blobs = Vec::with_capacity(steps.min(16));
        for _ in 0..steps {
            step_blobs.push(codec::read_blob(&mut buffer, WHAT)?);
        }
        codec::expect_end(&buffer, WHAT)?;
        // The recursion circuits, the scheduler and the compression steps deserialise at once
        // (each circuit's prover data on one thread; the keystore's load time).
        let ((recursion, scheduler), circuits) = rayon::join(
            || {
                rayon::join(
                    || RecursionCircuits::from_bytes(recursion_blob),
                    || SchedulerCircuit::from_bytes(scheduler_blob),
                )
            },
            || {
                step_blobs
                    .par_iter()
                    .map(|blob| CompressionCircuit::from_bytes(blob))
                    .collect::<Result<Vec<_>, _>>()
            },
        );
        let (recursion, scheduler, circuits) = (recursion?, scheduler?, circuits?);
        let scheduler_data = scheduler.circuit_data();
        let scheduler_key = verifying_key_digest(&scheduler_data.verifier_only);
        if scheduler_key.elements.map(|e| e.to_canonical_u64()) != key {
            return Err(
                inconsistent("the compression chain was built for another scheduler").into(),
            );
        }
        let compression = CompressionChain::from_circuits(circuits, &scheduler_data.common)?;
        let mut basic = basic;
        basic.sort_by_key(|c| c.kind);
        if basic.iter().map(|c| c.kind).ne(BasicCircuitKind::ALL) {
            return Err(inconsistent("one basic circuit per type is needed").into());
        }
        for (circuit, leaf) in basic.iter().zip(recursion.leaves()) {
            if leaf.circuit_id() != circuit.circuit_id()
                || leaf.shape().verifier_only != circuit.data.verifier_only
            {
                return Err(inconsistent(
                    "the leaves were built for other basic circuits (geometry?)",
                )
                .into());
            }
        }
        let geometry = basic[0].geometry;
        let rebuilt = super::scheduler::recursion_tree_vk_digest(
            &recursion,
            &recursion.tip().circuit_data().verifier_only,
        );
        if super::vk::to_hash_digest(rebuilt) != scheduler.tree_vk_digest() {
            return Err(inconsistent("the scheduler was built for another recursion tree").into());
        }
        Ok(Self {
            geometry,
            basic,
            recursion,
            scheduler,
            compression,
        })
    }
}

/// Wall-clock time spent in each layer, and how many proofs each made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerTimings {
    /// Time proving the basic instances.
    pub basic: Duration,
    /// Basic proofs made.
    pub basic_proofs: usize,
    /// Time proving the leaves.
    pub leaf: Duration,
    /// Leaf proofs made.
    pub leaf_proofs: usize,
    /// Time proving the nodes, all depths.
    pub node: Duration,
    /// Node proofs per depth, summed over the types (depth 0 aggregates leaves).
    pub node_proofs_per_depth: Vec<usize>,
    /// Time proving the recursion tip.
    pub tip: Duration,
    /// Time proving the scheduler.
    pub scheduler: Duration,
    /// Time of the compression chain.
    pub compression: Duration,
}

/// The result of proving a batch.
#[derive(Debug, Clone)]
pub struct FinalBatchProof {
    /// The final (compressed-chain) proof, plonky2's encoding.
    pub proof_bytes: Vec<u8>,
    /// What the final proof attests (its decoded public inputs).
    pub public_output: BatchPublicOutput,
    /// Time and proofs per layer.
    pub timings: LayerTimings,
}

/// The intermediate proofs of a whole batch up to the tip ([`prove_to_tip`]), for callers (and
/// tests) that run the last layers themselves ([`prove_from_tip`] or their own).
#[derive(Debug, Clone)]
pub struct TipStage {
    /// The recursion-tip proof.
    pub tip: TipProof,
    /// What the tip was proven over, one slot per type in the tip's order.
    pub slots: Vec<TipSlot>,
    /// Time and proofs of the layers up to the tip (the later ones zero).
    pub timings: LayerTimings,
}

/// Proves every basic instance of `executed`, aggregates each type and proves the tip.
pub fn prove_to_tip(
    circuits: &BatchCircuits,
    executed: &ExecutedBatch,
) -> Result<TipStage, BatchProofError> {
    if executed.witness.operations.is_empty() {
        return Err(BatchProofError::EmptyBatch);
    }
    let witnesses = split_batch(executed, &circuits.geometry)?;
    let mut timings = LayerTimings::default();
    let mut slots = Vec::with_capacity(BasicCircuitKind::ALL.len());
    for kind in BasicCircuitKind::ALL {
        let circuit = circuits.basic(kind);
        let shape = basic_type_shape(circuit);
        let id = kind.circuit_id();
        let forms = witnesses
            .closed_forms_of(id)
            .map(|c| c.instances.as_slice())
            .unwrap_or_default();
        let mut instances: Vec<_> = witnesses
            .instances
            .iter()
            .filter(|i| i.circuit == id)
            .collect();
        instances.sort_by_key(|i| i.sequence);
        if instances.len() != forms.len() {
            return Err(CircuitError::InvalidBatchWitness(format!(
                "{} instances of {} but {} closed forms",
                instances.len(),
                kind.name(),
                forms.len()
            ))
            .into());
        }
        if instances.is_empty() {
            slots.push(TipSlot::Absent {
                closed_form: absent_closed_form(kind, executed),
            });
            continue;
        }
        let started = Instant::now();
        let mut basic = Vec::with_capacity(instances.len());
        for (instance, form) in instances.iter().zip(forms) {
            if form.sequence != instance.sequence {
                return Err(CircuitError::InvalidBatchWitness(format!(
                    "{} instance {} has the closed form of instance {}",
                    kind.name(),
                    instance.sequence,
                    form.sequence
                ))
                .into());
            }
            let witness = circuit.decode_witness(&instance.witness)?;
            let proof = circuit.prove(&witness)?;
            basic.push(basic_proof(proof, form, &shape)?);
        }
        timings.basic += started.elapsed();
        timings.basic_proofs += basic.len();
        slots.push(aggregate(circuits, id, basic, &mut timings)?);
    }
    let started = Instant::now();
    let tip = circuits
        .recursion
        .tip()
        .prove(circuits.recursion.node(), &slots)?;
    timings.tip = started.elapsed();
    Ok(TipStage {
        tip,
        slots,
        timings,
    })
}

/// Proves the scheduler over a tip proof and runs the compression chain; verifies the final
/// proof and returns it with the output it attests.
pub fn prove_from_tip(
    circuits: &BatchCircuits,
    stage: TipStage,
    executed: &ExecutedBatch,
) -> Result<FinalBatchProof, BatchProofError> {
    let mut timings = stage.timings;
    let started = Instant::now();
    let SchedulerProof { proof, .. } = circuits
        .scheduler
        .prove(&stage.tip, executed.witness.batch_number)?;
    timings.scheduler = started.elapsed();
    let started = Instant::now();
    let proofs = circuits.compression.prove(&proof)?;
    timings.compression = started.elapsed();
    let final_proof = proofs.last().ok_or_else(|| {
        RecursionError::InvalidGeometry("the compression chain made no proof".into())
    })?;
    let proof_bytes = final_proof.to_bytes();
    let public_output = circuits.verify_final(&proof_bytes)?;
    let mut expected = executed.public_output;
    expected.recursion_tree_vk_digest = circuits.scheduler.tree_vk_digest();
    if public_output != expected {
        return Err(BatchProofError::OutputMismatch {
            expected: Box::new(expected),
            proved: Box::new(public_output),
        });
    }
    Ok(FinalBatchProof {
        proof_bytes,
        public_output,
        timings,
    })
}

/// One type's basic proofs → leaves over chunks of A → node levels until one proof remains.
fn aggregate(
    circuits: &BatchCircuits,
    id: CircuitId,
    basic: Vec<BasicProof>,
    timings: &mut LayerTimings,
) -> Result<TipSlot, BatchProofError> {
    let arity = circuits.recursion.arity();
    let leaf = circuits.recursion.leaf(id)?;
    let (first_input, last_output) = match (basic.first(), basic.last()) {
        (Some(f), Some(l)) => (f.input.clone(), l.output.clone()),
        _ => {
            return Err(RecursionError::ChildCount {
                layer: "leaf",
                arity,
                got: 0,
            }
            .into())
        }
    };
    let started = Instant::now();
    let mut level: Vec<RecursionProof> = basic
        .chunks(arity)
        .map(|chunk| leaf.prove(chunk))
        .collect::<Result<_, _>>()?;
    timings.leaf += started.elapsed();
    timings.leaf_proofs += level.len();
    let started = Instant::now();
    // Always at least one node level: the tip takes node proofs only.
    let mut depth = 0;
    loop {
        level = level
            .chunks(arity)
            .map(|chunk| circuits.recursion.node().prove(chunk))
            .collect::<Result<_, _>>()?;
        if timings.node_proofs_per_depth.len() <= depth {
            timings.node_proofs_per_depth.push(0);
        }
        timings.node_proofs_per_depth[depth] += level.len();
        depth += 1;
        if level.len() == 1 {
            break;
        }
    }
    timings.node += started.elapsed();
    let final_node = level.remove(0);
    Ok(TipSlot::Present {
        final_node: Box::new(final_node),
        first_input,
        last_output,
    })
}

fn field_elements(values: &[u64], what: &str) -> Result<Vec<F>, CircuitError> {
    values
        .iter()
        .map(|&v| {
            crate::field_element(v).map_err(|_| {
                CircuitError::MalformedWitness(format!("{what} element {v} is not canonical"))
            })
        })
        .collect()
}

/// A basic proof with its closed form as the leaf takes it (input, carried output, count).
fn basic_proof(
    proof: plonky2::plonk::proof::ProofWithPublicInputs<F, super::C, { super::D }>,
    form: &ClosedForm,
    shape: &BasicTypeShape,
) -> Result<BasicProof, CircuitError> {
    let input = field_elements(&form.input, "closed-form input")?;
    let own = field_elements(&form.output, "closed-form output")?;
    if input.len() != shape.closed_form_len || own.len() != shape.public_output_len {
        return Err(CircuitError::InvalidBatchWitness(format!(
            "closed form of {}/{} elements, circuit id {} takes {}/{}",
            input.len(),
            own.len(),
            shape.circuit_id,
            shape.closed_form_len,
            shape.public_output_len
        )));
    }
    let mut output = own;
    output.extend_from_slice(&input[shape.public_output_len..]);
    Ok(BasicProof {
        proof,
        input,
        output,
        count: u64::from(form.item_count),
    })
}

/// The closed form a type without items keeps through the batch: its values at the batch's
/// start (every chain `ZERO`, the state root and priority serial the batch starts from).
pub fn absent_closed_form(kind: BasicCircuitKind, executed: &ExecutedBatch) -> Vec<F> {
    let start = &executed.witness.start;
    let digest = |d: &zkfleet_rollup::spec::Digest| d.elements.to_vec();
    let limbs = |v: u64| {
        vec![
            F::from_canonical_u64(v & 0xffff_ffff),
            F::from_canonical_u64(v >> 32),
        ]
    };
    match kind {
        BasicCircuitKind::SignatureVerification => digest(&start.signed_operations),
        BasicCircuitKind::StateTransition => {
            let mut out = Vec::with_capacity(STATE_INPUT_LEN);
            for d in [
                &start.state_root,
                &start.operations,
                &start.signed_operations,
                &start.deposits,
                &start.withdrawals,
                &start.pubdata,
            ] {
                out.extend(digest(d));
            }
            out.extend(limbs(executed.witness.chain_id.0));
            out.push(F::from_canonical_u32(executed.witness.operator));
            out
        }
        BasicCircuitKind::PriorityOperations => {
            let mut out = digest(&start.deposits);
            out.extend(limbs(start.next_priority_serial));
            out
        }
    }
}
