//! The card's memory budget (issue 17: "the prover sizes itself to the card's memory and says
//! what it keeps").
//!
//! A proof on the card holds its wires, Z / partial products and quotient commitments (LDE,
//! Merkle tree, coefficients) from their commitment to the end of its FRI, plus short-lived
//! buffers (the uploaded values, the quotient's values, FRI's combined LDE). [`proof_bytes`]
//! computes that from the circuit's shape with the same sizes the commitment allocates
//! ([`commit_bytes`]). [`MemoryBudget`] is the bytes the prover may hold at once: the card's
//! free memory at start less a headroom (twiddle tables, the kernels' module, the allocator's
//! slack). A proof is admitted ([`MemoryBudget::reserve`]) before its first commitment, for its
//! whole peak, and gives the bytes back when it ends, error or not; when proofs already in
//! flight hold too much, the next one waits for them (up to [`MemoryBudget::wait`]) and then
//! fails with [`GpuError::MemoryBudget`], a transient error the job monitor retries. No proof
//! ever evicts another one's commitments. Each circuit's constants/sigmas LDE (setup data, kept
//! for the process's life) is reserved the same way at its first use.
//!
//! All of this is host-side accounting: it runs and is tested without a card.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use plonky2::plonk::circuit_data::CommonCircuitData;
use plonky2::util::log2_ceil;

use crate::backend::D;
use crate::error::GpuError;
use crate::F;

const GIB: f64 = (1u64 << 30) as f64;

/// Device bytes of one batch commitment made on the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitBytes {
    /// Kept with the commitment while it is resident: coefficients, LDE, digests
    /// (`DeviceCommitment::device_bytes`).
    pub resident: u64,
    /// Held only while the commitment is made (the uploaded batch, the interpolation's work
    /// copy) or copied back whole (the row-major transpose of the leaves).
    pub transient: u64,
}

/// The bytes `GpuContext::commit_device` (`interpolate`: from values) or `commit_coeffs_device`
/// allocates for `width` polynomials of 2^log_n values, blowup 2^rate_bits, cap height
/// `cap_height`; `download_rows`: the leaves are then copied back whole (`GpuContext::download`).
pub fn commit_bytes(
    width: usize,
    log_n: usize,
    rate_bits: usize,
    cap_height: usize,
    interpolate: bool,
    download_rows: bool,
) -> CommitBytes {
    let width = width as u64;
    let n = 1u64 << log_n;
    let big_n = n << rate_bits;
    let levels = (log_n + rate_bits).saturating_sub(cap_height);
    let digests: u64 = (0..=levels).map(|l| big_n >> l).sum::<u64>() * 4;
    let resident = width * n + width * big_n + digests;
    let batch = width * n;
    let work = if interpolate { width * n } else { 0 };
    let rows = if download_rows { width * big_n } else { 0 };
    CommitBytes {
        resident: 8 * resident,
        transient: 8 * (batch + work + rows),
    }
}

/// Device bytes one proof of a circuit needs at its peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofBytes {
    /// The wires, Z / partial products and quotient commitments, all resident at the end.
    pub resident: u64,
    /// The largest short-lived buffer on top of them (an upload, the quotient's values, FRI's
    /// combined LDE).
    pub transient: u64,
}

impl ProofBytes {
    /// What a proof reserves: its resident commitments and its largest transient buffer.
    pub fn total(&self) -> u64 {
        self.resident + self.transient
    }
}

/// The device bytes of one proof of the circuit by `crate::prover` on the GPU backend (the
/// circuit's setup LDE, shared by its proofs, apart). Counted as if the commitments stay on the
/// card, with the rows' copy back included in the transient part, so it also bounds the path
/// that copies them back for the CPU quotient.
pub fn proof_bytes(common: &CommonCircuitData<F, D>) -> ProofBytes {
    let config = &common.config;
    let (rate, cap) = (config.fri_config.rate_bits, config.fri_config.cap_height);
    let k = common.degree_bits();
    let ch = config.num_challenges;
    let wires = commit_bytes(config.num_wires, k, rate, cap, true, true);
    let zs = commit_bytes(
        ch * (1 + common.num_partial_products),
        k,
        rate,
        cap,
        true,
        true,
    );
    let chunks = commit_bytes(
        ch * common.quotient_degree_factor,
        k,
        rate,
        cap,
        false,
        true,
    );
    // The quotient kernel's output: one column per challenge on the 2^qdb-times larger coset,
    // and its coefficients beside it (the interpolation on the card, `quotient_polys`).
    let quotient_values = 8 * 2 * ((ch as u64) << (k + log2_ceil(common.quotient_degree_factor)));
    // FRI's combined polynomial: its two base-field components, uploaded and extended.
    let fri_lde = 8 * 2 * ((1u64 << k) + (1u64 << (k + rate)));
    // FRI's first commit-phase tree hashed on the card: its rows (two base elements per value
    // of the 2^(k + rate) LDE) and the digests (under 2 per leaf).
    let fri_leaves = 1u64
        << (k + rate).saturating_sub(
            common
                .fri_params
                .reduction_arity_bits
                .first()
                .copied()
                .unwrap_or(0),
        );
    let fri_tree = 8 * (2 * (1u64 << (k + rate)) + 8 * fri_leaves);
    // FRI's commit phase on the card (`GpuContext::fri_commit_phase`): at the first layer, the
    // coefficients, their coset FFT and the next layer's folded coefficients (at most 5 per
    // LDE point with arity 2 or more), and every layer's leaves and digests, kept for the query
    // rounds (the first layer's tree, at most twice over for all layers together).
    let fri_commit = 8 * (5 * (1u64 << (k + rate))) + 2 * fri_tree;
    // The permutation kernels: the routed wires uploaded, each row's chunk prefixes, Z and the
    // partial products (the circuit's sigma values are setup data, reserved apart).
    let perm_chunks = (config
        .num_routed_wires
        .div_ceil(common.quotient_degree_factor.max(1))) as u64;
    let permutation = 8
        * (1u64 << k)
        * (config.num_routed_wires as u64
            + ch as u64 * (perm_chunks + 1 + common.num_partial_products as u64));
    ProofBytes {
        resident: wires.resident + zs.resident + chunks.resident,
        transient: [
            wires.transient,
            zs.transient,
            chunks.transient,
            quotient_values,
            fri_lde,
            permutation,
            fri_tree,
            fri_commit,
        ]
        .into_iter()
        .max()
        .unwrap_or(0),
    }
}

/// How many bytes of the card the prover may hold at once, and who holds how many now.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    card_total: u64,
    card_free: u64,
    wait: Duration,
    in_use: Mutex<u64>,
    freed: Condvar,
}

impl MemoryBudget {
    /// How long a proof waits for others to give memory back before it fails.
    pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

    /// A budget of `limit` bytes (tests; a card's budget comes from [`Self::for_card`]).
    pub fn new(limit: u64, wait: Duration) -> Arc<Self> {
        Arc::new(Self {
            limit,
            card_total: limit,
            card_free: limit,
            wait,
            in_use: Mutex::new(0),
            freed: Condvar::new(),
        })
    }

    /// The budget of a card with `free` of `total` bytes free now: the free memory less a
    /// headroom of a sixteenth of the card (at least 1 GiB) for the twiddle tables, the kernels'
    /// module, the pinned-copy events and the stream-ordered allocator's slack, none of which
    /// the budget counts.
    pub fn for_card(free: u64, total: u64) -> Arc<Self> {
        let headroom = (total / 16).max(1 << 30);
        Arc::new(Self {
            limit: free.saturating_sub(headroom),
            card_total: total,
            card_free: free,
            wait: Self::DEFAULT_WAIT,
            in_use: Mutex::new(0),
            freed: Condvar::new(),
        })
    }

    /// The bytes the prover may hold at once.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The bytes reserved now.
    pub fn in_use(&self) -> u64 {
        *self.in_use.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long [`Self::reserve`] waits before it fails.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// How many proofs of `per_proof` bytes fit at once next to `kept` bytes of setup data.
    pub fn proofs_that_fit(&self, per_proof: u64, kept: u64) -> u64 {
        self.limit.saturating_sub(kept) / per_proof.max(1)
    }

    /// Reserves `bytes` for `what` (named in the error): at once if they fit next to what is
    /// reserved now, else after waiting up to [`Self::wait`] for reservations to end. Fails
    /// with [`GpuError::MemoryBudget`] when they still do not fit, or at once when they exceed
    /// the whole budget.
    pub fn reserve(
        self: &Arc<Self>,
        bytes: u64,
        what: &'static str,
    ) -> Result<Reservation, GpuError> {
        let started = Instant::now();
        let fail = |in_use: u64| GpuError::MemoryBudget {
            what,
            needed: bytes,
            in_use,
            limit: self.limit,
            waited_ms: started.elapsed().as_millis() as u64,
        };
        if bytes > self.limit {
            return Err(fail(self.in_use()));
        }
        let deadline = started + self.wait;
        let mut in_use = self.in_use.lock().unwrap_or_else(|e| e.into_inner());
        while *in_use + bytes > self.limit {
            let now = Instant::now();
            if now >= deadline {
                return Err(fail(*in_use));
            }
            in_use = self
                .freed
                .wait_timeout(in_use, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *in_use += bytes;
        Ok(Reservation {
            budget: Arc::clone(self),
            bytes,
        })
    }

    fn give_back(&self, bytes: u64) {
        let mut in_use = self.in_use.lock().unwrap_or_else(|e| e.into_inner());
        *in_use = in_use.saturating_sub(bytes);
        drop(in_use);
        self.freed.notify_all();
    }
}

impl fmt::Display for MemoryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.1} GiB of the card's {:.1} GiB ({:.1} GiB free at start)",
            self.limit as f64 / GIB,
            self.card_total as f64 / GIB,
            self.card_free as f64 / GIB
        )
    }
}

/// Bytes of a [`MemoryBudget`] held until this is dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl Reservation {
    /// The bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Gives back all but `bytes` (no-op if it holds no more), e.g. once a short-lived buffer
    /// is freed and only the kept part remains.
    pub fn shrink_to(&mut self, bytes: u64) {
        if bytes < self.bytes {
            self.budget.give_back(self.bytes - bytes);
            self.bytes = bytes;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_bytes_are_the_allocations_of_a_commitment() {
        // 135 columns of 2^12, blowup 8, cap height 4: coefficients 135 * 2^12, LDE 135 * 2^15,
        // digests 4 * (2^15 + 2^14 + ... + 2^4) (the leaves' level up to the cap).
        let c = commit_bytes(135, 12, 3, 4, true, false);
        let digests: u64 = (4..=15).map(|l| 1u64 << l).sum::<u64>() * 4;
        assert_eq!(c.resident, 8 * (135 * 4096 + 135 * 32768 + digests));
        assert_eq!(c.transient, 8 * 2 * 135 * 4096);
        let from_coeffs = commit_bytes(135, 12, 3, 4, false, true);
        assert_eq!(from_coeffs.resident, c.resident);
        assert_eq!(from_coeffs.transient, 8 * (135 * 4096 + 135 * 32768));
        // Cap height = log2 of the leaves: the leaves' digests are the cap.
        assert_eq!(
            commit_bytes(1, 0, 0, 0, false, false).resident,
            8 * (1 + 1 + 4)
        );
    }

    #[test]
    fn reservations_add_up_and_give_back() {
        let budget = MemoryBudget::new(100, Duration::from_millis(10));
        let a = budget.reserve(60, "a").expect("fits");
        let b = budget.reserve(40, "b").expect("fits exactly");
        assert_eq!(budget.in_use(), 100);
        assert_eq!((a.bytes(), b.bytes()), (60, 40));
        drop(a);
        assert_eq!(budget.in_use(), 40);
        let mut c = budget.reserve(60, "c").expect("fits after a ended");
        c.shrink_to(10);
        assert_eq!((c.bytes(), budget.in_use()), (10, 50));
        c.shrink_to(20);
        assert_eq!(c.bytes(), 10, "shrinking never grows");
        drop((b, c));
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn a_proof_that_does_not_fit_fails_after_waiting_and_names_the_budget() {
        let budget = MemoryBudget::new(100, Duration::from_millis(50));
        let held = budget.reserve(70, "held").expect("fits");
        let started = Instant::now();
        let err = budget.reserve(40, "a proof").expect_err("70 + 40 > 100");
        assert!(started.elapsed() >= Duration::from_millis(50), "it waited");
        match &err {
            GpuError::MemoryBudget {
                what,
                needed,
                in_use,
                limit,
                ..
            } => assert_eq!((*what, *needed, *in_use, *limit), ("a proof", 40, 70, 100)),
            other => panic!("expected MemoryBudget, got {other}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("a proof") && text.contains("retried"),
            "{text}"
        );
        // Nothing was taken from the reservation already held.
        assert_eq!(budget.in_use(), 70);
        drop(held);
    }

    #[test]
    fn more_than_the_whole_budget_fails_at_once() {
        let budget = MemoryBudget::new(100, Duration::from_secs(60));
        let started = Instant::now();
        assert!(matches!(
            budget.reserve(101, "a proof"),
            Err(GpuError::MemoryBudget { needed: 101, .. })
        ));
        assert!(started.elapsed() < Duration::from_secs(5), "no wait");
    }

    #[test]
    fn a_waiting_proof_starts_when_another_ends() {
        let budget = MemoryBudget::new(100, Duration::from_secs(30));
        let first = budget.reserve(80, "first").expect("fits");
        std::thread::scope(|s| {
            let waiter = s.spawn(|| budget.reserve(50, "second").map(|r| r.bytes()));
            std::thread::sleep(Duration::from_millis(50));
            drop(first);
            assert_eq!(waiter.join().expect("thread").expect("admitted"), 50);
        });
        assert_eq!(budget.in_use(), 0);
    }

    /// Records the shape of every commitment a proof makes, committing with plonky2's CPU code.
    #[derive(Default)]
    struct Recording {
        commits: Mutex<Vec<CommitBytes>>,
        admitted: Mutex<Vec<u64>>,
    }

    impl crate::backend::CommitBackend for Recording {
        fn commit_values(
            &self,
            values: Vec<plonky2::field::polynomial::PolynomialValues<F>>,
            rate_bits: usize,
            cap_height: usize,
            roots: Option<&plonky2_field::fft::FftRootTable<F>>,
        ) -> Result<crate::backend::Batch, GpuError> {
            let log_n = values[0].len().trailing_zeros() as usize;
            let b = commit_bytes(values.len(), log_n, rate_bits, cap_height, true, false);
            self.commits.lock().unwrap().push(b);
            crate::CpuCommit.commit_values(values, rate_bits, cap_height, roots)
        }

        fn commit_coeffs(
            &self,
            coeffs: Vec<plonky2::field::polynomial::PolynomialCoeffs<F>>,
            rate_bits: usize,
            cap_height: usize,
            roots: Option<&plonky2_field::fft::FftRootTable<F>>,
        ) -> Result<crate::backend::Batch, GpuError> {
            let log_n = coeffs[0].len().trailing_zeros() as usize;
            let b = commit_bytes(coeffs.len(), log_n, rate_bits, cap_height, false, false);
            self.commits.lock().unwrap().push(b);
            crate::CpuCommit.commit_coeffs(coeffs, rate_bits, cap_height, roots)
        }

        fn name(&self) -> &'static str {
            "recording"
        }

        fn begin_proof(
            &self,
            common: &CommonCircuitData<F, D>,
        ) -> Result<crate::backend::ProofAdmission, GpuError> {
            self.admitted
                .lock()
                .unwrap()
                .push(proof_bytes(common).total());
            crate::CpuCommit.begin_proof(common)
        }
    }

    #[test]
    fn proof_bytes_are_the_commitments_the_prover_makes() {
        use plonky2::field::types::{Field, Sample};
        use plonky2::hash::poseidon::PoseidonHash;
        use plonky2::iop::witness::{PartialWitness, WitnessWrite};
        use plonky2::plonk::circuit_builder::CircuitBuilder;
        use plonky2::plonk::circuit_data::CircuitConfig;

        let mut builder = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
        let inputs = builder.add_virtual_targets(4);
        builder.register_public_inputs(&inputs);
        let mut state = builder.hash_n_to_hash_no_pad::<PoseidonHash>(inputs.clone());
        for _ in 0..40 {
            state = builder.hash_n_to_hash_no_pad::<PoseidonHash>(state.elements.to_vec());
        }
        let c = builder.constant(F::from_canonical_u64(7));
        let acc = builder.mul_add(state.elements[0], inputs[1], c);
        builder.register_public_input(acc);
        let data = builder.build::<crate::backend::C>();
        let mut pw = PartialWitness::new();
        for (t, v) in inputs.iter().zip(F::rand_vec(4)) {
            pw.set_target(*t, v).unwrap();
        }
        let recording = Recording::default();
        crate::prover::prove(&data.prover_only, &data.common, pw, &recording).expect("proves");
        let commits = recording.commits.lock().unwrap().clone();
        assert_eq!(
            commits.len(),
            3,
            "wires, Z / partial products, quotient chunks"
        );
        let expected = proof_bytes(&data.common);
        assert_eq!(
            commits.iter().map(|c| c.resident).sum::<u64>(),
            expected.resident,
            "2^{} rows",
            data.common.degree_bits()
        );
        assert!(commits.iter().all(|c| c.transient <= expected.transient));
        assert_eq!(*recording.admitted.lock().unwrap(), vec![expected.total()]);
    }

    #[test]
    fn a_card_budget_leaves_headroom() {
        let gib = 1u64 << 30;
        let b = MemoryBudget::for_card(79 * gib, 80 * gib);
        assert_eq!(b.limit(), 79 * gib - 5 * gib);
        assert_eq!(b.proofs_that_fit(gib, 2 * gib), 72);
        assert!(
            b.to_string().contains("74.0 GiB of the card's 80.0 GiB"),
            "{b}"
        );
        // A small card: at least 1 GiB of headroom; nothing free: nothing to give.
        assert_eq!(MemoryBudget::for_card(8 * gib, 8 * gib).limit(), 7 * gib);
        assert_eq!(MemoryBudget::for_card(0, 8 * gib).limit(), 0);
    }
}
