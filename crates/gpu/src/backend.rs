//! Where a proof's batch commitments are made: plonky2's own CPU code or the GPU.
//!
//! The prover of this crate ([`crate::prover`]) calls a [`CommitBackend`] wherever plonky2's
//! `prove` calls `PolynomialBatch::from_values` / `from_coeffs`, and hands the returned
//! `PolynomialBatch` to plonky2's own CPU code (quotient, openings, FRI). So the GPU backend must
//! give back everything that code reads:
//!
//! - `polynomials` (the coefficients): the openings at zeta and FRI's combined polynomial;
//! - `merkle_tree.leaves` (the LDE rows in leaf order): the quotient reads them
//!   (`get_lde_values`) and FRI's query rounds open them;
//! - `merkle_tree.digests`, in plonky2's recursive layout: the query rounds' Merkle paths
//!   (`MerkleTree::prove`); the device keeps them level by level, reordered here;
//! - `merkle_tree.cap`: the transcript.

use plonky2::field::extension::{Extendable, FieldExtension};
use plonky2::field::polynomial::{PolynomialCoeffs, PolynomialValues};
use plonky2::field::types::Field;
use plonky2::field::types::PrimeField64;
use plonky2::fri::oracle::PolynomialBatch;
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::merkle_proofs::MerkleProof;
use plonky2::hash::merkle_tree::{MerkleCap, MerkleTree};
use plonky2::plonk::circuit_data::{CommonCircuitData, ProverOnlyCircuitData};
use plonky2::plonk::config::PoseidonGoldilocksConfig;
use plonky2::util::timing::TimingTree;
use plonky2_field::fft::FftRootTable;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

use cudarc::driver::CudaSlice;

use crate::context::{DeviceCommitment, GpuContext};
use crate::error::GpuError;
use crate::memory::{commit_bytes, proof_bytes, MemoryBudget, Reservation};
pub use crate::quotient::QuotientInputs;
use crate::{Hasher, F};

/// The plonky2 configuration the backends commit for (Poseidon over Goldilocks, D = 2).
pub type C = PoseidonGoldilocksConfig;
/// The extension degree of [`C`].
pub const D: usize = 2;
/// plonky2's batch commitment under [`C`].
pub type Batch = PolynomialBatch<F, C, D>;
/// The extension field FRI works in.
pub type Ext = <F as Extendable<D>>::Extension;
/// A leaf's row and its Merkle proof, as one of FRI's query rounds opens it
/// (`merkle_tree.get(i)`, `merkle_tree.prove(i)`).
pub type Opening = (Vec<F>, MerkleProof<F, Hasher>);

/// FRI's commit-phase trees as the query rounds read them, wherever they are kept.
pub trait FriLayers {
    /// The rows at leaf `indices` of layer `layer`'s tree with their Merkle proofs:
    /// `(tree.get(i), tree.prove(i))` of plonky2's tree.
    fn open(&self, layer: usize, indices: &[usize]) -> Result<Vec<Opening>, GpuError>;
}

/// Trees on the host: plonky2's own `get` and `prove`.
impl FriLayers for Vec<MerkleTree<F, Hasher>> {
    fn open(&self, layer: usize, indices: &[usize]) -> Result<Vec<Opening>, GpuError> {
        let tree = self.get(layer).ok_or_else(|| {
            GpuError::InvalidInput(format!("FRI layer {layer} of {}", self.len()))
        })?;
        let leaves = tree.leaves.len();
        indices
            .iter()
            .map(|&i| {
                if i >= leaves {
                    return Err(GpuError::InvalidInput(format!(
                        "leaf {i} of a tree of {leaves} leaves"
                    )));
                }
                Ok((tree.get(i).to_vec(), tree.prove(i)))
            })
            .collect()
    }
}

/// Trees kept on the card: one `gather_openings` launch per layer for all queries.
impl FriLayers for crate::context::DeviceFriLayers<'_> {
    fn open(&self, layer: usize, indices: &[usize]) -> Result<Vec<Opening>, GpuError> {
        Ok(crate::context::DeviceFriLayers::open(self, layer, indices)?
            .into_iter()
            .map(|(row, siblings)| (row, MerkleProof { siblings }))
            .collect())
    }
}

/// FRI's commit phase as [`CommitBackend::fri_commit_phase`] gives it back.
pub struct FriCommitted<'a> {
    /// Each layer's cap (`FriProof::commit_phase_merkle_caps`).
    pub caps: Vec<MerkleCap<F, Hasher>>,
    /// The final polynomial, truncated to `len >> rate_bits` coefficients.
    pub final_poly: PolynomialCoeffs<Ext>,
    /// The layers' trees, for the query rounds.
    pub layers: Box<dyn FriLayers + 'a>,
}

/// What `MerkleTree::new` would assert on, as an error: a power-of-two number of leaves and a
/// cap no higher than the tree.
pub(crate) fn check_tree_shape(count: usize, cap_height: usize) -> Result<(), GpuError> {
    if !count.is_power_of_two() || cap_height > count.trailing_zeros() as usize {
        return Err(GpuError::InvalidInput(format!(
            "a Merkle tree of {count} leaves with a cap of height {cap_height}"
        )));
    }
    Ok(())
}

/// Makes the batch commitments of a proof (without blinding: our configurations are not
/// zero-knowledge, see [`crate::prover`]).
pub trait CommitBackend: Send + Sync {
    /// As `PolynomialBatch::from_values(values, rate_bits, false, cap_height, ..)`.
    fn commit_values(
        &self,
        values: Vec<PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError>;

    /// As `PolynomialBatch::from_coeffs(coeffs, rate_bits, false, cap_height, ..)`.
    fn commit_coeffs(
        &self,
        coeffs: Vec<PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError>;

    /// A short name for logs ("cpu", "gpu").
    fn name(&self) -> &'static str;

    /// A proof of the circuit is about to start: a backend with a device memory budget
    /// reserves the proof's peak there (waiting for proofs in flight to end, or failing with
    /// [`GpuError::MemoryBudget`]); the prover holds the returned admission until the proof
    /// ends, error or not. Default: nothing to reserve.
    fn begin_proof(&self, _common: &CommonCircuitData<F, D>) -> Result<ProofAdmission, GpuError> {
        Ok(ProofAdmission(None))
    }

    /// The quotient's values on the `2^quotient_degree_bits` coset (plonky2's
    /// `compute_quotient_polys` before its coset iFFT), one column per challenge, if this
    /// backend evaluates it: `None` means the prover computes it on the CPU (the default; the GPU
    /// backend too for a circuit with a gate it has no kernel for, or when the commitments it
    /// needs are no longer on the card).
    fn quotient_values(
        &self,
        _inputs: &QuotientInputs<'_>,
    ) -> Option<Result<Vec<PolynomialValues<F>>, GpuError>> {
        None
    }

    /// The quotient's polynomials: the values of [`Self::quotient_values`] interpolated as the
    /// prover does on the host (`coset_ifft(F::coset_shift())`), one per challenge, of
    /// `2^(degree_bits + quotient_degree_bits)` coefficients, if this backend computes them:
    /// `None` (the default) means the prover asks [`Self::quotient_values`] and interpolates on
    /// the host.
    fn quotient_polys(
        &self,
        _inputs: &QuotientInputs<'_>,
    ) -> Option<Result<Vec<PolynomialCoeffs<F>>, GpuError>> {
        None
    }

    /// The permutation argument's Z and partial products, in the order of
    /// [`crate::permutation::zs_and_partial_products`] (the host path, the default: `None`), if
    /// this backend computes them.
    fn zs_and_partial_products(
        &self,
        _routed_wires: &[PolynomialValues<F>],
        _betas: &[F],
        _gammas: &[F],
        _prover_data: &ProverOnlyCircuitData<F, C, D>,
        _common_data: &CommonCircuitData<F, D>,
    ) -> Option<Result<Vec<PolynomialValues<F>>, GpuError>> {
        None
    }

    /// plonky2's `MerkleTree::new(leaves, cap_height)`, for FRI's commit-phase trees. Default:
    /// on the host's cores, eight leaves at a time ([`crate::poseidon_x8::merkle_tree`]).
    fn merkle_tree(
        &self,
        leaves: Vec<Vec<F>>,
        cap_height: usize,
    ) -> Result<MerkleTree<F, Hasher>, GpuError> {
        check_tree_shape(leaves.len(), cap_height)?;
        Ok(crate::poseidon_x8::merkle_tree(leaves, cap_height))
    }

    /// The prover is done with these commitments (by cap): a backend that kept device copies of
    /// them (for [`Self::quotient_values`] and [`Self::open_rows`]) frees them.
    fn release(&self, _caps: &[&MerkleCap<F, Hasher>]) {}

    /// As [`Self::commit_values`], but the backend may keep the LDE rows and the Merkle tree on
    /// its device: the batch it returns then holds the coefficients and the cap, with
    /// `merkle_tree.leaves` and `merkle_tree.digests` empty, and FRI's query rounds read the
    /// rows and paths they open with [`Self::open_rows`]. The prover calls it only where the
    /// backend evaluates the quotient too (the CPU quotient reads every row), and releases the
    /// commitment when the proof is done. Default: [`Self::commit_values`], all on the host.
    fn commit_values_resident(
        &self,
        values: Vec<PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        self.commit_values(values, rate_bits, cap_height, fft_root_table)
    }

    /// As [`Self::commit_coeffs`], the rows and tree possibly kept on the device as in
    /// [`Self::commit_values_resident`].
    fn commit_coeffs_resident(
        &self,
        coeffs: Vec<PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        self.commit_coeffs(coeffs, rate_bits, cap_height, fft_root_table)
    }

    /// FRI's combined polynomial on plonky2's coset LDE (`coeffs.lde(rate_bits)` then
    /// `coset_fft(F::coset_shift())`, as `prove_openings` computes it), the values in
    /// bit-reversed order (after `reverse_index_bits_in_place`, as FRI's first layer reads
    /// them), if this backend computes it: `None` means the prover does, on the CPU (default).
    fn coset_lde_ext(
        &self,
        _coeffs: &PolynomialCoeffs<Ext>,
        _rate_bits: usize,
    ) -> Option<Result<Vec<Ext>, GpuError>> {
        None
    }

    /// plonky2's `fri_committed_trees` (FRI's commit phase) from the combined polynomial's LDE
    /// coefficients (`lde_final_poly`, zero-padded to the LDE's size), if this backend runs it:
    /// `None` means the prover does, on the host (default), with [`Self::coset_lde_ext`] and
    /// [`Self::merkle_tree`]. `beta(cap)` must be called once per layer, in order, with the
    /// layer's cap (it observes the cap and draws the layer's beta); the caller observes the
    /// final polynomial afterwards.
    fn fri_commit_phase<'a>(
        &'a self,
        _lde_coeffs: &PolynomialCoeffs<Ext>,
        _fri_params: &plonky2::fri::FriParams,
        _beta: &mut dyn FnMut(&MerkleCap<F, Hasher>) -> Ext,
    ) -> Option<Result<FriCommitted<'a>, GpuError>> {
        None
    }

    /// FRI's proof-of-work nonce: the smallest `n` with `start.works(n, min_leading_zeros)`,
    /// if this backend searches it (`crate::pow` on the card): `None` means the prover searches
    /// on the CPU (default).
    fn pow_search(
        &self,
        _start: &crate::challenger::PowStart,
        _min_leading_zeros: u32,
    ) -> Option<Result<u64, GpuError>> {
        None
    }

    /// The rows at leaf `indices` of a commitment a `*_resident` commit kept on the device, with
    /// their Merkle proofs: `(merkle_tree.get(i), merkle_tree.prove(i))` of the full tree.
    fn open_rows(
        &self,
        _cap: &MerkleCap<F, Hasher>,
        _indices: &[usize],
    ) -> Result<Vec<Opening>, GpuError> {
        Err(GpuError::InvalidInput(format!(
            "the {} backend keeps no Merkle trees off the host",
            self.name()
        )))
    }
}

/// What [`CommitBackend::begin_proof`] reserved for one proof; given back when dropped.
#[derive(Debug)]
pub struct ProofAdmission(Option<Reservation>);

impl ProofAdmission {
    /// Device bytes reserved for the proof (0 for a backend without a budget).
    pub fn bytes(&self) -> u64 {
        self.0.as_ref().map_or(0, Reservation::bytes)
    }
}

/// plonky2's own CPU commitment (the reference the GPU backend must equal).
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuCommit;

impl CommitBackend for CpuCommit {
    fn commit_values(
        &self,
        values: Vec<PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        Ok(Batch::from_values(
            values,
            rate_bits,
            false,
            cap_height,
            &mut TimingTree::default(),
            fft_root_table,
        ))
    }

    fn commit_coeffs(
        &self,
        coeffs: Vec<PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        Ok(Batch::from_coeffs(
            coeffs,
            rate_bits,
            false,
            cap_height,
            &mut TimingTree::default(),
            fft_root_table,
        ))
    }

    fn name(&self) -> &'static str {
        "cpu"
    }
}

/// The commitment on the GPU: interpolation, LDE and Merkle tree on the card.
///
/// `commit_values_resident` / `commit_coeffs_resident` (what the prover uses where the card
/// evaluates the circuit's quotient) copy back only the coefficients (and the cap): the LDE and
/// the tree stay on the card, where the quotient reads the LDEs and FRI's query rounds gather
/// the rows and Merkle paths they open ([`CommitBackend::open_rows`]), until the prover
/// [`CommitBackend::release`]s them at the end of the proof. How many proofs may hold theirs at
/// once is the card's [`MemoryBudget`]: each proof reserves its peak before its first commitment
/// ([`CommitBackend::begin_proof`]) and waits, or fails with a transient error, when the proofs
/// in flight hold too much; no proof's commitments are ever pushed out for another's.
/// `commit_values` / `commit_coeffs` copy the coefficients, every leaf and every digest below
/// the cap back for plonky2's CPU code (the CPU quotient) and keep nothing. The constants/sigmas
/// LDE of each circuit (setup data) is uploaded and extended once, at its first quotient, and
/// kept (reserved in the budget for good).
///
/// Proofs proved at the same time on several threads share one `GpuCommit` (behind an `Arc`):
/// every call runs on a CUDA stream of its own ([`GpuContext`]'s lanes), so their kernels and
/// copies overlap on the card.
pub struct GpuCommit {
    gpu: GpuContext,
    budget: Arc<MemoryBudget>,
    resident: Mutex<Vec<(Vec<u64>, Arc<DeviceCommitment>)>>,
    setup: Mutex<Vec<SetupEntry>>,
    /// Each circuit's sigma values (row-major) for the permutation kernels, by the
    /// constants/sigmas cap, with their share of the budget: setup data, uploaded once.
    sigmas: Mutex<Vec<SigmasEntry>>,
}

type SigmasEntry = (Vec<u64>, Arc<CudaSlice<u64>>, Reservation);

/// A circuit's constants/sigmas LDE on the card, by cap, with its share of the budget.
type SetupEntry = (Vec<u64>, Arc<DeviceCommitment>, Reservation);

fn cap_key(cap: &MerkleCap<F, Hasher>) -> Vec<u64> {
    cap.0
        .iter()
        .flat_map(|h| h.elements.map(|e| e.to_canonical_u64()))
        .collect()
}

impl GpuCommit {
    /// A backend committing on `gpu`, nothing kept yet, its budget sized to the card's free
    /// memory now ([`MemoryBudget::for_card`]). Where the driver cannot say (it always can on
    /// a working card), nothing is limited.
    pub fn new(gpu: GpuContext) -> Self {
        let budget = match gpu.memory_info() {
            Ok((free, total)) => MemoryBudget::for_card(free as u64, total as u64),
            Err(_) => MemoryBudget::new(u64::MAX, MemoryBudget::DEFAULT_WAIT),
        };
        Self::with_budget(gpu, budget)
    }

    /// This process's backend for card `ordinal`, opened on first use and shared by every
    /// caller while any of them holds it. One process that runs both a circuit prover and a
    /// compressor on one card (`zkfleet prove`) must not open two: each would size its memory
    /// budget to the card's free memory as if alone (together they could overbook the card and
    /// fail with out-of-memory where one budget would have made a proof wait), and each would
    /// compile the kernels and build the twiddle tables again. Once every holder has dropped it,
    /// the next call opens a fresh one.
    pub fn shared(ordinal: usize) -> Result<Arc<Self>, GpuError> {
        static OPEN: Mutex<Vec<(usize, std::sync::Weak<GpuCommit>)>> = Mutex::new(Vec::new());
        // Held while a card opens, so that two first callers do not both open it.
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|(_, weak)| weak.strong_count() > 0);
        if let Some(commit) = open
            .iter()
            .find(|(o, _)| *o == ordinal)
            .and_then(|(_, weak)| weak.upgrade())
        {
            return Ok(commit);
        }
        let commit = Arc::new(Self::new(GpuContext::with_ordinal(ordinal)?));
        open.push((ordinal, Arc::downgrade(&commit)));
        Ok(commit)
    }

    /// A backend committing on `gpu` within `budget`.
    pub fn with_budget(gpu: GpuContext, budget: Arc<MemoryBudget>) -> Self {
        Self {
            gpu,
            budget,
            resident: Mutex::new(Vec::new()),
            setup: Mutex::new(Vec::new()),
            sigmas: Mutex::new(Vec::new()),
        }
    }

    /// The card's memory budget this backend proves within.
    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }

    /// Bytes of setup data kept on the card now: circuits' constants/sigmas LDEs and the sigma
    /// values of the permutation kernels.
    pub fn setup_bytes(&self) -> u64 {
        let setup = self.setup.lock().unwrap_or_else(|e| e.into_inner());
        let lde: u64 = setup.iter().map(|(_, _, r)| r.bytes()).sum();
        drop(setup);
        let sigmas = self.sigmas.lock().unwrap_or_else(|e| e.into_inner());
        lde + sigmas.iter().map(|(_, _, r)| r.bytes()).sum::<u64>()
    }

    /// Commitments kept on the card now for proofs in flight (setup data apart).
    pub fn resident_count(&self) -> usize {
        self.resident
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    fn resident(&self, cap: &MerkleCap<F, Hasher>) -> Option<Arc<DeviceCommitment>> {
        let key = cap_key(cap);
        let kept = self.resident.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter().find(|(k, _)| *k == key).map(|(_, c)| c.clone())
    }

    /// Keeps a proof's commitment until the prover releases it. Its memory is part of the
    /// proof's admission, so nothing is evicted here.
    fn keep(&self, c: DeviceCommitment) {
        let mut kept = self.resident.lock().unwrap_or_else(|e| e.into_inner());
        kept.push((cap_key(c.cap()), Arc::new(c)));
    }

    /// The circuit's constants/sigmas LDE on the card, extended from its coefficients at first
    /// use and checked against the setup's cap.
    fn setup_lde(&self, batch: &Batch) -> Result<Arc<DeviceCommitment>, GpuError> {
        let key = cap_key(&batch.merkle_tree.cap);
        let mut setup = self.setup.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, c, _)) = setup.iter().find(|(k, _, _)| *k == key) {
            return Ok(c.clone());
        }
        let cap_height = batch.merkle_tree.cap.height();
        let bytes = commit_bytes(
            batch.polynomials.len(),
            batch.degree_log,
            batch.rate_bits,
            cap_height,
            false,
            false,
        );
        // The LDE is kept for good; its upload is short-lived.
        let mut reserved = self
            .budget
            .reserve(bytes.resident + bytes.transient, "a circuit's setup data")?;
        let up = self.gpu.upload_coeffs(&batch.polynomials)?;
        let c = self
            .gpu
            .commit_coeffs_device(&up, batch.rate_bits, cap_height)?;
        if c.cap() != &batch.merkle_tree.cap {
            return Err(GpuError::InvalidInput(
                "the constants/sigmas LDE extended on the card does not give the circuit's cap"
                    .into(),
            ));
        }
        drop(up);
        reserved.shrink_to(bytes.resident);
        let c = Arc::new(c);
        setup.push((key, c.clone(), reserved));
        Ok(c)
    }

    /// The quotient kernel's columns (`dims.num_ch` of `2^dims.log_lde`), values or, with
    /// `interpolate`, coefficients; `None` where a commitment it reads is not on the card.
    fn gpu_quotient(
        &self,
        q: &QuotientInputs<'_>,
        plan: crate::quotient::QuotientPlan,
        interpolate: bool,
    ) -> Option<Result<Vec<Vec<F>>, GpuError>> {
        let wires = self.resident(q.wires_cap)?;
        let zs = self.resident(q.zs_cap)?;
        let run = || {
            let cs = self.setup_lde(q.constants_sigmas)?;
            let raw = self.gpu.quotient_launch(
                &wires,
                &cs,
                &zs,
                &plan.k_is,
                &plan.challenges,
                &plan.alpha_powers,
                &plan.misc,
                &plan.gates,
                plan.dims,
                interpolate,
            )?;
            let points = 1usize << plan.dims.log_lde;
            Ok(raw
                .chunks_exact(points)
                .map(|col| col.iter().map(|&v| F::from_canonical_u64(v)).collect())
                .collect())
        };
        Some(run())
    }

    /// The circuit's sigma values on the card (row-major, `num_routed` per row), uploaded at
    /// first use and kept, keyed by the constants/sigmas cap.
    fn perm_sigmas(
        &self,
        prover_data: &ProverOnlyCircuitData<F, C, D>,
        num_routed: usize,
    ) -> Result<Arc<CudaSlice<u64>>, GpuError> {
        let key = cap_key(&prover_data.constants_sigmas_commitment.merkle_tree.cap);
        let mut kept = self.sigmas.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, s, _)) = kept.iter().find(|(k, _, _)| *k == key) {
            return Ok(s.clone());
        }
        let n = prover_data.sigmas.len();
        let reserved = self
            .budget
            .reserve(8 * (n * num_routed) as u64, "a circuit's sigma values")?;
        let mut flat = vec![0u64; n * num_routed];
        flat.par_chunks_mut(num_routed.max(1))
            .zip(&prover_data.sigmas)
            .for_each(|(dst, row)| {
                for (d, v) in dst.iter_mut().zip(row) {
                    *d = v.to_canonical_u64();
                }
            });
        let dev = Arc::new(self.gpu.upload_u64(&flat)?);
        kept.push((key, dev.clone(), reserved));
        Ok(dev)
    }

    fn gpu_permutation(
        &self,
        routed_wires: &[PolynomialValues<F>],
        betas: &[F],
        gammas: &[F],
        prover_data: &ProverOnlyCircuitData<F, C, D>,
        common_data: &CommonCircuitData<F, D>,
    ) -> Result<Vec<PolynomialValues<F>>, GpuError> {
        let num_routed = common_data.config.num_routed_wires;
        let n = prover_data.subgroup.len();
        if routed_wires.len() != num_routed
            || common_data.k_is.len() < num_routed
            || n == 0
            || prover_data.subgroup[0] != F::ONE
            || prover_data.sigmas.len() != n
            || prover_data.sigmas.iter().any(|row| row.len() < num_routed)
            || routed_wires.iter().any(|w| w.values.len() != n)
        {
            return Err(GpuError::InvalidInput(format!(
                "the permutation's inputs disagree: {} routed wire columns and {} k_i for \
                 {num_routed} routed wires, {n} subgroup points, {} sigma rows",
                routed_wires.len(),
                common_data.k_is.len(),
                prover_data.sigmas.len()
            )));
        }
        let sigmas = self.perm_sigmas(prover_data, num_routed)?;
        let wires = self.gpu.upload(routed_wires)?;
        let canon = |v: &[F]| v.iter().map(|x| x.to_canonical_u64()).collect::<Vec<_>>();
        let generator = prover_data.subgroup.get(1).copied().unwrap_or(F::ONE);
        let raw = self.gpu.permutation_launch(
            &wires,
            &sigmas,
            &canon(&common_data.k_is[..num_routed]),
            &canon(betas),
            &canon(gammas),
            generator.to_canonical_u64(),
            common_data.quotient_degree_factor,
            common_data.num_partial_products,
        )?;
        drop(wires);
        Ok(raw
            .par_chunks_exact(n)
            .map(|col| {
                PolynomialValues::new(col.iter().map(|&v| F::from_canonical_u64(v)).collect())
            })
            .collect())
    }

    /// The card this backend commits on.
    pub fn context(&self) -> &GpuContext {
        &self.gpu
    }

    fn finish(&self, commitment: &DeviceCommitment, cap_height: usize) -> Result<Batch, GpuError> {
        let host = self.gpu.download(commitment)?;
        let levels = self.gpu.download_digests(commitment)?;
        let log_leaves = host.degree_log + host.rate_bits;
        let digests = plonky2_digest_order(&levels, log_leaves, cap_height)?;
        let width = host.width;
        let leaves: Vec<Vec<F>> = host.leaves.par_chunks(width).map(|r| r.to_vec()).collect();
        Ok(Batch {
            polynomials: host.coeffs,
            merkle_tree: MerkleTree {
                leaves,
                digests,
                cap: host.cap,
            },
            degree_log: host.degree_log,
            rate_bits: host.rate_bits,
            blinding: false,
        })
    }
}

impl CommitBackend for GpuCommit {
    fn commit_values(
        &self,
        values: Vec<PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        _fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        let batch = self.gpu.upload(&values)?;
        drop(values);
        let c = self.gpu.commit_device(&batch, rate_bits, cap_height)?;
        drop(batch);
        self.finish(&c, cap_height)
    }

    fn commit_coeffs(
        &self,
        coeffs: Vec<PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        _fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        let batch = self.gpu.upload_coeffs(&coeffs)?;
        drop(coeffs);
        let c = self
            .gpu
            .commit_coeffs_device(&batch, rate_bits, cap_height)?;
        drop(batch);
        self.finish(&c, cap_height)
    }

    fn name(&self) -> &'static str {
        "gpu"
    }

    fn begin_proof(&self, common: &CommonCircuitData<F, D>) -> Result<ProofAdmission, GpuError> {
        let bytes = proof_bytes(common).total();
        Ok(ProofAdmission(Some(self.budget.reserve(bytes, "a proof")?)))
    }

    fn quotient_values(
        &self,
        q: &QuotientInputs<'_>,
    ) -> Option<Result<Vec<PolynomialValues<F>>, GpuError>> {
        let plan = crate::quotient::plan(q).ok()?;
        let columns = self.gpu_quotient(q, plan, false)?;
        Some(columns.map(|c| c.into_iter().map(PolynomialValues::new).collect()))
    }

    fn quotient_polys(
        &self,
        q: &QuotientInputs<'_>,
    ) -> Option<Result<Vec<PolynomialCoeffs<F>>, GpuError>> {
        let plan = crate::quotient::plan(q).ok()?;
        let columns = self.gpu_quotient(q, plan, true)?;
        Some(columns.map(|c| c.into_iter().map(PolynomialCoeffs::new).collect()))
    }

    fn zs_and_partial_products(
        &self,
        routed_wires: &[PolynomialValues<F>],
        betas: &[F],
        gammas: &[F],
        prover_data: &ProverOnlyCircuitData<F, C, D>,
        common_data: &CommonCircuitData<F, D>,
    ) -> Option<Result<Vec<PolynomialValues<F>>, GpuError>> {
        Some(self.gpu_permutation(routed_wires, betas, gammas, prover_data, common_data))
    }

    fn merkle_tree(
        &self,
        leaves: Vec<Vec<F>>,
        cap_height: usize,
    ) -> Result<MerkleTree<F, Hasher>, GpuError> {
        let (levels, cap) = self.gpu.hash_rows(&leaves, cap_height)?;
        let log_leaves = leaves.len().trailing_zeros() as usize;
        let digests = plonky2_digest_order(&levels, log_leaves, cap_height)?;
        let cap = MerkleCap(
            cap.chunks_exact(4)
                .map(|c| HashOut {
                    elements: [
                        F::from_canonical_u64(c[0]),
                        F::from_canonical_u64(c[1]),
                        F::from_canonical_u64(c[2]),
                        F::from_canonical_u64(c[3]),
                    ],
                })
                .collect(),
        );
        Ok(MerkleTree {
            leaves,
            digests,
            cap,
        })
    }

    fn release(&self, caps: &[&MerkleCap<F, Hasher>]) {
        // One entry per cap: two proofs of the same witness in flight at once commit to the same
        // data and keep two entries under one cap, and one proof's end must not free the other's.
        let mut kept = self.resident.lock().unwrap_or_else(|e| e.into_inner());
        for cap in caps {
            let key = cap_key(cap);
            if let Some(at) = kept.iter().position(|(k, _)| *k == key) {
                kept.remove(at);
            }
        }
    }

    fn commit_values_resident(
        &self,
        values: Vec<PolynomialValues<F>>,
        rate_bits: usize,
        cap_height: usize,
        _fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        let batch = self.gpu.upload(&values)?;
        drop(values);
        let c = self.gpu.commit_device(&batch, rate_bits, cap_height)?;
        drop(batch);
        let polynomials = self.gpu.download_coeffs(&c)?;
        let out = resident_batch(polynomials, &c, rate_bits);
        self.keep(c);
        Ok(out)
    }

    fn commit_coeffs_resident(
        &self,
        coeffs: Vec<PolynomialCoeffs<F>>,
        rate_bits: usize,
        cap_height: usize,
        _fft_root_table: Option<&FftRootTable<F>>,
    ) -> Result<Batch, GpuError> {
        let batch = self.gpu.upload_coeffs(&coeffs)?;
        let c = self
            .gpu
            .commit_coeffs_device(&batch, rate_bits, cap_height)?;
        drop(batch);
        // plonky2's `from_coeffs` keeps the coefficients it was given.
        let out = resident_batch(coeffs, &c, rate_bits);
        self.keep(c);
        Ok(out)
    }

    fn coset_lde_ext(
        &self,
        coeffs: &PolynomialCoeffs<Ext>,
        rate_bits: usize,
    ) -> Option<Result<Vec<Ext>, GpuError>> {
        // The FFT's twiddles and the coset shift are base-field elements, so each of the two
        // components of the extension-field polynomial is extended on its own.
        let run = || {
            let (c0, c1): (Vec<F>, Vec<F>) = coeffs
                .coeffs
                .iter()
                .map(|e| {
                    let [a, b] = e.to_basefield_array();
                    (a, b)
                })
                .unzip();
            let batch = self
                .gpu
                .upload_coeffs(&[PolynomialCoeffs::new(c0), PolynomialCoeffs::new(c1)])?;
            let raw = self.gpu.lde_to_host(&batch, rate_bits)?;
            let (r0, r1) = raw.split_at(raw.len() / 2);
            Ok(r0
                .par_iter()
                .zip(r1)
                .map(|(&a, &b)| {
                    Ext::from_basefield_array([F::from_canonical_u64(a), F::from_canonical_u64(b)])
                })
                .collect())
        };
        Some(run())
    }

    fn fri_commit_phase<'a>(
        &'a self,
        lde_coeffs: &PolynomialCoeffs<Ext>,
        fri_params: &plonky2::fri::FriParams,
        beta: &mut dyn FnMut(&MerkleCap<F, Hasher>) -> Ext,
    ) -> Option<Result<FriCommitted<'a>, GpuError>> {
        let mut run = || {
            let len = lde_coeffs.len();
            if !len.is_power_of_two() {
                return Err(GpuError::InvalidInput(format!(
                    "FRI's LDE of {len} coefficients (a power of two needed)"
                )));
            }
            // Both components, the first of every coefficient then the second.
            let mut words = vec![0u64; 2 * len];
            let (c0, c1) = words.split_at_mut(len);
            c0.par_iter_mut()
                .zip(c1.par_iter_mut())
                .zip(lde_coeffs.coeffs.par_iter())
                .for_each(|((a, b), e)| {
                    let [x, y] = e.to_basefield_array();
                    *a = x.to_canonical_u64();
                    *b = y.to_canonical_u64();
                });
            let done = self.gpu.fri_commit_phase(
                &words,
                len.trailing_zeros(),
                &fri_params.reduction_arity_bits,
                fri_params.config.cap_height,
                fri_params.config.rate_bits,
                &mut |cap| {
                    let [a, b] = beta(cap).to_basefield_array();
                    [a.to_canonical_u64(), b.to_canonical_u64()]
                },
            )?;
            Ok(FriCommitted {
                caps: done.caps,
                final_poly: PolynomialCoeffs::new(
                    done.final_coeffs
                        .into_iter()
                        .map(Ext::from_basefield_array)
                        .collect(),
                ),
                layers: Box::new(done.layers),
            })
        };
        Some(run())
    }

    fn pow_search(
        &self,
        start: &crate::challenger::PowStart,
        min_leading_zeros: u32,
    ) -> Option<Result<u64, GpuError>> {
        Some(self.gpu.pow_search(start, min_leading_zeros))
    }

    fn open_rows(
        &self,
        cap: &MerkleCap<F, Hasher>,
        indices: &[usize],
    ) -> Result<Vec<Opening>, GpuError> {
        let c = self.resident(cap).ok_or_else(|| {
            GpuError::InvalidInput(
                "a commitment FRI opens is not on the card (released already, or never kept)"
                    .into(),
            )
        })?;
        Ok(self
            .gpu
            .open_rows(&c, indices)?
            .into_iter()
            .map(|(row, siblings)| (row, MerkleProof { siblings }))
            .collect())
    }
}

/// The batch a resident commitment hands the prover: coefficients and cap; the rows and the
/// digests stay on the card (empty here).
fn resident_batch(
    polynomials: Vec<PolynomialCoeffs<F>>,
    c: &DeviceCommitment,
    rate_bits: usize,
) -> Batch {
    Batch {
        degree_log: polynomials
            .first()
            .map_or(0, |p| p.coeffs.len().trailing_zeros() as usize),
        polynomials,
        merkle_tree: MerkleTree {
            leaves: Vec::new(),
            digests: Vec::new(),
            cap: c.cap().clone(),
        },
        rate_bits,
        blinding: false,
    }
}

/// Reorders the digests the device keeps level by level (`levels`: the 2^log_leaves leaf
/// digests, then each level up to but not including the cap, 4 u64 each) into plonky2's
/// `MerkleTree::digests` layout: one block of `2 * (2^layers - 1)` digests per cap entry's
/// subtree, and inside it the recursive order `left subtree || left child || right child ||
/// right subtree`. Digest `j` of layer `i` of a subtree sits at
/// `2 * (((j >> 1) << (i + 1)) + (1 << i) - 1) + (j & 1)` (the inverse of plonky2's
/// `merkle_tree_prove` indexing).
pub fn plonky2_digest_order(
    levels: &[u64],
    log_leaves: usize,
    cap_height: usize,
) -> Result<Vec<HashOut<F>>, GpuError> {
    if cap_height > log_leaves {
        return Err(GpuError::InvalidInput(format!(
            "cap_height {cap_height} above log2 of the leaves {log_leaves}"
        )));
    }
    let layers = log_leaves - cap_height;
    let expected: usize = (0..layers).map(|i| 1usize << (log_leaves - i)).sum();
    if levels.len() != expected * 4 {
        return Err(GpuError::InvalidInput(format!(
            "{} digest words, expected {} for 2^{log_leaves} leaves and cap height {cap_height}",
            levels.len(),
            expected * 4
        )));
    }
    let num_digests = 2 * ((1usize << log_leaves) - (1usize << cap_height));
    let mut out = vec![HashOut::<F>::ZERO; num_digests];
    if layers == 0 {
        return Ok(out);
    }
    let tree_len = 2 * ((1usize << layers) - 1);
    let mut offset = 0usize;
    for i in 0..layers {
        let count = 1usize << (log_leaves - i);
        let per_tree = layers - i;
        let mask = (1usize << per_tree) - 1;
        for g in 0..count {
            let tree = g >> per_tree;
            let j = g & mask;
            let pos = tree * tree_len + 2 * (((j >> 1) << (i + 1)) + (1 << i) - 1) + (j & 1);
            let w = &levels[offset + 4 * g..offset + 4 * g + 4];
            out[pos] = HashOut {
                elements: [
                    F::from_noncanonical_u64(w[0]),
                    F::from_noncanonical_u64(w[1]),
                    F::from_noncanonical_u64(w[2]),
                    F::from_noncanonical_u64(w[3]),
                ],
            };
        }
        offset += count * 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use plonky2::field::types::{PrimeField64, Sample};
    use plonky2::hash::hash_types::RichField;
    use plonky2::hash::poseidon::PoseidonHash;
    use plonky2::plonk::config::Hasher as _;

    use super::*;

    /// Digests level by level as the device computes them, on the CPU.
    fn levels_of(leaves: &[Vec<F>], cap_height: usize) -> Vec<u64> {
        let mut level: Vec<HashOut<F>> = leaves
            .iter()
            .map(|l| PoseidonHash::hash_or_noop(l))
            .collect();
        let log_leaves = leaves.len().trailing_zeros() as usize;
        let mut out = Vec::new();
        for _ in 0..log_leaves - cap_height {
            out.extend(
                level
                    .iter()
                    .flat_map(|h| h.elements.map(|e| e.to_canonical_u64())),
            );
            level = level
                .chunks(2)
                .map(|p| PoseidonHash::two_to_one(p[0], p[1]))
                .collect();
        }
        out
    }

    fn check<Fr: RichField>(_: Fr) {}

    #[test]
    fn device_levels_reorder_to_plonky2_digests() {
        check(F::ZERO);
        for log_leaves in 0..=7usize {
            for cap_height in 0..=log_leaves.min(4) {
                for width in [1usize, 4, 7] {
                    let leaves: Vec<Vec<F>> =
                        (0..1 << log_leaves).map(|_| F::rand_vec(width)).collect();
                    let tree = MerkleTree::<F, PoseidonHash>::new(leaves.clone(), cap_height);
                    let levels = levels_of(&leaves, cap_height);
                    let ours = plonky2_digest_order(&levels, log_leaves, cap_height).unwrap();
                    assert_eq!(
                        ours, tree.digests,
                        "2^{log_leaves} leaves, cap height {cap_height}, width {width}"
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_digest_count_is_an_error() {
        assert!(plonky2_digest_order(&[0; 8], 2, 0).is_err());
        assert!(plonky2_digest_order(&[], 2, 3).is_err());
    }

    #[test]
    fn host_merkle_trees_are_plonky2s_and_bad_shapes_are_errors() {
        for (log_leaves, width, cap_height) in [(9usize, 32usize, 4usize), (3, 3, 3), (0, 16, 0)] {
            let leaves: Vec<Vec<F>> = (0..1usize << log_leaves)
                .map(|_| F::rand_vec(width))
                .collect();
            let theirs = MerkleTree::<F, PoseidonHash>::new(leaves.clone(), cap_height);
            let ours = CpuCommit.merkle_tree(leaves, cap_height).unwrap();
            assert_eq!(ours.cap, theirs.cap);
            assert!(ours.digests == theirs.digests);
        }
        assert!(CpuCommit.merkle_tree(vec![F::rand_vec(8); 3], 0).is_err());
        assert!(CpuCommit.merkle_tree(vec![F::rand_vec(8); 4], 3).is_err());
        assert!(CpuCommit.merkle_tree(Vec::new(), 0).is_err());
    }
}
