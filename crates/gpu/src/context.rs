//! The device, its compiled kernels, and the commitment pipeline.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, CudaView, CudaViewMut,
    LaunchConfig, PinnedHostSlice, PushKernelArg,
};
use plonky2::field::polynomial::{PolynomialCoeffs, PolynomialValues};
use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::merkle_tree::MerkleCap;

use crate::error::{During, GpuError};
use crate::source::kernel_source;
use crate::{Hasher, F};

mod fri_layers;
pub use fri_layers::{DeviceFriLayers, FriCommitPhase};

/// Largest chunk (log2 of elements) one thread block transforms in shared memory: 2^11 u64 =
/// 16 KiB, under the 48 KiB a block gets without opting in, with one butterfly per thread of a
/// 1024-thread block per stage.
const LOCAL_LOG: u32 = 11;
const BLOCK: u32 = 256;
/// Poseidon kernels keep 12 u64 lanes plus temporaries in registers; smaller blocks keep more of
/// them resident per multiprocessor.
const HASH_BLOCK: u32 = 128;
/// The quotient kernel holds a Poseidon state and the accumulators in registers, like the hash
/// kernels.
const QUOTIENT_BLOCK: u32 = 128;

/// The scalar parameters of the `quotient_values` kernel (`QuotientDims` in kernels/quotient.cu,
/// same field order and layout).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuotientDims {
    pub log_leaves: u32,
    pub log_lde: u32,
    pub qdb: u32,
    pub num_ch: u32,
    pub num_routed: u32,
    pub num_prods: u32,
    pub max_degree: u32,
    pub num_constants: u32,
    pub num_selectors: u32,
    pub num_terms: u32,
    pub t0: u32,
    pub num_gates: u32,
    pub shift: u64,
    pub w: u64,
    pub n_field: u64,
}

// SAFETY: plain old data, laid out as the kernel's struct (#[repr(C)], 12 u32 then 3 u64).
unsafe impl cudarc::driver::DeviceRepr for QuotientDims {}
/// Device-to-host copies go through two pinned buffers of this many u64 (64 MiB each): a copy
/// into pageable memory runs far below the link's speed, and with two buffers the next chunk
/// crosses the link while the host spreads the previous one into the destination.
const STAGING_LEN: usize = 8 << 20;

/// A leaf's row and the sibling digests of its Merkle path, bottom first ([`GpuContext::open_rows`]).
pub type RowAndPath = (Vec<F>, Vec<HashOut<F>>);

/// A CUDA device with the commitment kernels compiled for it.
///
/// Every call (a commitment, a download, a quotient, FRI's openings) checks a [`Lane`] out of
/// the context's pool for its length: its own CUDA stream and its own pinned staging pair. So
/// proofs proved at the same time on several threads (the circuit prover's
/// `concurrent_proofs`) queue their kernels and copies on separate streams, which the card
/// overlaps, instead of one stream in submission order behind one staging lock. The pool grows
/// to the number of calls ever in flight at once and keeps its lanes. Data made on one lane and
/// read on another (a proof's LDE, the twiddle tables, a circuit's setup) is ordered by
/// cudarc's per-buffer events (the context is in its multi-stream mode from the start), and
/// every call also waits for its own stream before it returns.
pub struct GpuContext {
    ctx: Arc<CudaContext>,
    /// A stream of the context's own, not a lane's (work that belongs to no caller).
    stream: Arc<CudaStream>,
    kernels: Kernels,
    device_name: String,
    compute_capability: (i32, i32),
    /// Twiddle and coset tables per (log2 of the degree, rate_bits), built on first use and kept
    /// on the device, as the design keeps setup data resident.
    tables: Mutex<HashMap<(u32, u32), Arc<Tables>>>,
    /// Lanes not checked out now.
    lanes: Mutex<Vec<Lane>>,
    /// Lanes made so far (the most calls that were ever in flight at once).
    lanes_made: AtomicUsize,
}

/// A CUDA stream and the pinned staging pair of its downloads, checked out by one call at a
/// time ([`GpuContext`]).
struct Lane {
    stream: Arc<CudaStream>,
    /// Pinned staging buffers for downloads, allocated at the lane's first download.
    staging: Option<[PinnedHostSlice<u64>; 2]>,
}

/// A lane checked out of the pool; back in the pool when dropped (after an error too: work
/// still queued on its stream stays ahead of the next caller's, in stream order).
struct LaneGuard<'a> {
    pool: &'a Mutex<Vec<Lane>>,
    lane: Option<Lane>,
}

impl LaneGuard<'_> {
    fn lane(&mut self) -> &mut Lane {
        self.lane
            .as_mut()
            .expect("a guard holds its lane until dropped")
    }
    fn stream(&self) -> &Arc<CudaStream> {
        &self
            .lane
            .as_ref()
            .expect("a guard holds its lane until dropped")
            .stream
    }
}

impl Drop for LaneGuard<'_> {
    fn drop(&mut self) {
        if let Some(lane) = self.lane.take() {
            self.pool
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(lane);
        }
    }
}

/// Wall-clock seconds of each phase of a commitment (from [`GpuContext::commit_device_profiled`],
/// which synchronizes between phases to measure them).
#[derive(Debug, Clone, Copy, Default)]
pub struct CommitPhases {
    /// Inverse NTT and coefficient reordering.
    pub interpolate_s: f64,
    /// Coset scaling and the forward NTTs of the LDE.
    pub extend_s: f64,
    /// Leaf hashing, the tree levels and the cap's copy back.
    pub merkle_s: f64,
}

struct Kernels {
    _module: Arc<CudaModule>,
    canonicalize: CudaFunction,
    pow_table: CudaFunction,
    ntt_stage: CudaFunction,
    ntt_local: CudaFunction,
    bitrev_scale: CudaFunction,
    lde_expand: CudaFunction,
    hash_leaves: CudaFunction,
    hash_level: CudaFunction,
    transpose: CudaFunction,
    quotient: CudaFunction,
    gather: CudaFunction,
    coset_scale: CudaFunction,
    fri_leaves: CudaFunction,
    fri_fold: CudaFunction,
    pow: CudaFunction,
    perm_quotients: CudaFunction,
    perm_block_products: CudaFunction,
    perm_zs: CudaFunction,
    perm_partials: CudaFunction,
}

struct Tables {
    /// w_n^e, e < n/2.
    tw_fwd: CudaSlice<u64>,
    /// w_n^-e, e < n/2.
    tw_inv: CudaSlice<u64>,
    /// Block jb of n entries holds g_j^i, j = bitrev_r(jb), g_j = shift * w_N^j.
    coset_pows: CudaSlice<u64>,
}

/// Polynomial values uploaded to the device (column-major, canonical).
pub struct DeviceBatch {
    values: CudaSlice<u64>,
    width: usize,
    log_n: u32,
}

impl DeviceBatch {
    /// Number of polynomials.
    pub fn width(&self) -> usize {
        self.width
    }
    /// log2 of the number of values per polynomial.
    pub fn degree_log(&self) -> usize {
        self.log_n as usize
    }
}

/// A commitment whose LDE and Merkle tree stay on the device; only the cap has been copied back.
pub struct DeviceCommitment {
    coeffs: CudaSlice<u64>,
    /// Column-major, each column in leaf (bit-reversed) order.
    lde: CudaSlice<u64>,
    /// The leaf digests, then each level up to the cap (4 u64 per digest).
    digests: CudaSlice<u64>,
    width: usize,
    log_n: u32,
    rate_bits: u32,
    cap: MerkleCap<F, Hasher>,
}

impl DeviceCommitment {
    /// The Merkle cap, as plonky2's `MerkleTree::cap`.
    pub fn cap(&self) -> &MerkleCap<F, Hasher> {
        &self.cap
    }
    /// Number of committed polynomials (leaf width).
    pub fn width(&self) -> usize {
        self.width
    }
    /// Number of leaves (rows of the LDE).
    pub fn num_leaves(&self) -> usize {
        1usize << (self.log_n + self.rate_bits)
    }
    /// Bytes of device memory held (coefficients, LDE, digests).
    pub fn device_bytes(&self) -> usize {
        8 * (self.coeffs.len() + self.lde.len() + self.digests.len())
    }
}

/// A commitment copied back to the host, in the shapes plonky2's `PolynomialBatch` holds.
#[derive(Debug, Clone)]
pub struct GpuCommitment {
    /// The coefficients of each polynomial (`PolynomialBatch::polynomials`).
    pub coeffs: Vec<PolynomialCoeffs<F>>,
    /// The Merkle leaves, row-major: leaf `i` is `leaves[i * width..(i + 1) * width]`, the same
    /// rows as `PolynomialBatch::merkle_tree.leaves[i]`.
    pub leaves: Vec<F>,
    /// Leaf width (number of polynomials).
    pub width: usize,
    /// log2 of the degree.
    pub degree_log: usize,
    /// log2 of the blowup.
    pub rate_bits: usize,
    /// The Merkle cap (`PolynomialBatch::merkle_tree.cap`).
    pub cap: MerkleCap<F, Hasher>,
}

impl GpuCommitment {
    /// Leaf `i` (row `reverse_bits(i)` of the LDE), as `merkle_tree.leaves[i]`.
    pub fn leaf(&self, i: usize) -> &[F] {
        &self.leaves[i * self.width..(i + 1) * self.width]
    }
    /// Number of leaves.
    pub fn num_leaves(&self) -> usize {
        1 << (self.degree_log + self.rate_bits)
    }
}

/// Runs `f`, turning a panic inside the CUDA bindings (a library or symbol that cannot be
/// loaded) into an error.
pub(crate) fn guarded<T>(
    during: &'static str,
    f: impl FnOnce() -> Result<T, GpuError>,
) -> Result<T, GpuError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(GpuError::Library { during, message })
        }
    }
}

pub(crate) fn grid(total: u64, block: u32) -> Result<LaunchConfig, GpuError> {
    let blocks = total.div_ceil(block as u64);
    let blocks = u32::try_from(blocks)
        .ok()
        .filter(|&b| b < i32::MAX as u32)
        .ok_or_else(|| GpuError::InvalidInput(format!("{total} threads exceed one launch")))?;
    Ok(LaunchConfig {
        grid_dim: (blocks.max(1), 1, 1),
        block_dim: (block, 1, 1),
        shared_mem_bytes: 0,
    })
}

/// Chunks a row's routed wires may make in the permutation kernel (its per-thread array).
pub(crate) const PERM_MAX_CHUNKS: usize = 32;
/// log2 of the rows one thread scans in the permutation's Z (a block of the chunked scan).
pub(crate) const PERM_LOG_BLOCK: u32 = 6;

/// The Z value at the first row of each block: per challenge (`blocks` totals each), the
/// exclusive prefix product of the blocks' products.
pub(crate) fn block_carries(totals: &[u64], blocks: usize) -> Vec<u64> {
    totals
        .chunks(blocks.max(1))
        .flat_map(|per_challenge| {
            let mut acc = F::ONE;
            per_challenge
                .iter()
                .map(|&t| {
                    let carry = acc;
                    acc *= F::from_canonical_u64(t);
                    carry.to_canonical_u64()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn reverse_bits(i: usize, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        i.reverse_bits() >> (usize::BITS - bits)
    }
}

fn as_u64(values: &[F]) -> &[u64] {
    // SAFETY: GoldilocksField is `#[repr(transparent)]` over u64.
    unsafe { std::slice::from_raw_parts(values.as_ptr() as *const u64, values.len()) }
}

fn into_field_vec(v: Vec<u64>) -> Vec<F> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: GoldilocksField is `#[repr(transparent)]` over u64, so the allocation's layout is
    // the same; every u64 is a valid (canonical) field element.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut F, v.len(), v.capacity()) }
}

/// Digests of 4 canonical u64 each as a cap (or, `.0`, as a path's siblings).
fn cap_from_u64(raw: &[u64]) -> MerkleCap<F, Hasher> {
    MerkleCap(
        raw.chunks_exact(4)
            .map(|c| HashOut {
                elements: [
                    F::from_canonical_u64(c[0]),
                    F::from_canonical_u64(c[1]),
                    F::from_canonical_u64(c[2]),
                    F::from_canonical_u64(c[3]),
                ],
            })
            .collect(),
    )
}

impl GpuContext {
    /// Opens device 0 and compiles the kernels for it.
    pub fn new() -> Result<Self, GpuError> {
        Self::with_ordinal(0)
    }

    /// Opens device `ordinal` and compiles the kernels for it. Fails with
    /// [`GpuError::DriverNotFound`], [`GpuError::NvrtcNotFound`] or [`GpuError::NoDevice`] (see
    /// [`GpuError::is_unavailable`]) on a machine without a usable GPU.
    pub fn with_ordinal(ordinal: usize) -> Result<Self, GpuError> {
        // cudarc panics when a library cannot be opened; probe first so that the common case of
        // "no GPU here" is a plain error.
        // SAFETY: these only try dlopen on the candidate names.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(GpuError::DriverNotFound(
                "tried libcuda.so and libcuda.so.1".into(),
            ));
        }
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            return Err(GpuError::NvrtcNotFound(
                "tried libnvrtc.so and libnvrtc.so.13 among others".into(),
            ));
        }
        guarded("opening the device", || Self::open(ordinal))
    }

    fn open(ordinal: usize) -> Result<Self, GpuError> {
        let count = CudaContext::device_count().during("counting devices")?;
        let count = usize::try_from(count).unwrap_or(0);
        if ordinal >= count {
            return Err(GpuError::NoDevice { ordinal, count });
        }
        let ctx = CudaContext::new(ordinal).during("creating the context")?;
        let device_name = ctx.name().during("reading the device name")?;
        let compute_capability = ctx
            .compute_capability()
            .during("reading the compute capability")?;
        let (major, minor) = compute_capability;
        // A virtual architecture gives PTX that the driver finishes for the exact chip at load.
        let opts = cudarc::nvrtc::CompileOptions {
            options: vec![
                format!("--gpu-architecture=compute_{major}{minor}"),
                "--std=c++17".into(),
            ],
            ..Default::default()
        };
        let ptx = cudarc::nvrtc::compile_ptx_with_opts(kernel_source(), opts)
            .map_err(|e| GpuError::Compile(format!("{e:?}")))?;
        let module = ctx.load_module(ptx).during("loading the module")?;
        let f = |name: &str| module.load_function(name).during("loading a kernel");
        let kernels = Kernels {
            canonicalize: f("gl_canonicalize")?,
            pow_table: f("pow_table")?,
            ntt_stage: f("ntt_dif_stage")?,
            ntt_local: f("ntt_dif_local")?,
            bitrev_scale: f("bitrev_scale")?,
            lde_expand: f("lde_expand")?,
            hash_leaves: f("hash_leaves")?,
            hash_level: f("hash_level")?,
            transpose: f("transpose_cols_to_rows")?,
            quotient: f("quotient_values")?,
            gather: f("gather_openings")?,
            coset_scale: f("coset_scale")?,
            fri_leaves: f("fri_leaves")?,
            fri_fold: f("fri_fold")?,
            pow: f("pow_search")?,
            perm_quotients: f("perm_chunk_quotients")?,
            perm_block_products: f("perm_block_products")?,
            perm_zs: f("perm_zs")?,
            perm_partials: f("perm_partials")?,
            _module: module,
        };
        // Not the legacy default stream: it would serialise with every lane. Creating the first
        // stream also puts the context in cudarc's multi-stream mode before any buffer exists,
        // so that every buffer records the events that order its uses across lanes.
        let stream = ctx.new_stream().during("creating a stream")?;
        Ok(Self {
            ctx,
            stream,
            kernels,
            device_name,
            compute_capability,
            tables: Mutex::new(HashMap::new()),
            lanes: Mutex::new(Vec::new()),
            lanes_made: AtomicUsize::new(0),
        })
    }

    /// A lane for one call: a free one from the pool, or a new stream when every lane is in use.
    fn lane(&self) -> Result<LaneGuard<'_>, GpuError> {
        let free = self.lanes.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let lane = match free {
            Some(lane) => lane,
            None => {
                let stream = guarded("creating a stream", || {
                    self.ctx.new_stream().during("creating a stream")
                })?;
                self.lanes_made.fetch_add(1, Ordering::Relaxed);
                Lane {
                    stream,
                    staging: None,
                }
            }
        };
        Ok(LaneGuard {
            pool: &self.lanes,
            lane: Some(lane),
        })
    }

    /// How many lanes (CUDA streams with their staging pair) the context has made: the most
    /// calls that were in flight at the same time. One while calls come one at a time.
    pub fn streams_made(&self) -> usize {
        self.lanes_made.load(Ordering::Relaxed)
    }

    /// The card's free and total memory in bytes, as the driver reports them now.
    pub fn memory_info(&self) -> Result<(usize, usize), GpuError> {
        guarded("reading the card's memory", || {
            self.ctx.mem_get_info().during("reading the card's memory")
        })
    }

    /// The device's name as the driver reports it.
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    /// The device's compute capability (major, minor).
    pub fn compute_capability(&self) -> (i32, i32) {
        self.compute_capability
    }

    /// Waits for all queued work, on every lane.
    pub fn synchronize(&self) -> Result<(), GpuError> {
        self.stream.synchronize().during("synchronizing")?;
        self.ctx.synchronize().during("synchronizing")
    }

    /// Commits to `values` as plonky2's `PolynomialBatch::from_values(values, rate_bits, false,
    /// cap_height, ..)` does, and copies the coefficients, the leaves and the cap back.
    pub fn commit_polynomials(
        &self,
        values: &[PolynomialValues<F>],
        rate_bits: usize,
        cap_height: usize,
    ) -> Result<GpuCommitment, GpuError> {
        let batch = self.upload(values)?;
        let commitment = self.commit_device(&batch, rate_bits, cap_height)?;
        drop(batch);
        self.download(&commitment)
    }

    /// Copies a batch of polynomial values (all of one power-of-two length) to the device.
    pub fn upload(&self, values: &[PolynomialValues<F>]) -> Result<DeviceBatch, GpuError> {
        let columns: Vec<&[F]> = values.iter().map(|v| v.values.as_slice()).collect();
        self.upload_columns(&columns)
    }

    /// Copies a batch of polynomial coefficients (all of one power-of-two length) to the device,
    /// for [`Self::commit_coeffs_device`].
    pub fn upload_coeffs(&self, coeffs: &[PolynomialCoeffs<F>]) -> Result<DeviceBatch, GpuError> {
        let columns: Vec<&[F]> = coeffs.iter().map(|c| c.coeffs.as_slice()).collect();
        self.upload_columns(&columns)
    }

    fn upload_columns(&self, values: &[&[F]]) -> Result<DeviceBatch, GpuError> {
        let width = values.len();
        if width == 0 {
            return Err(GpuError::InvalidInput("no polynomials".into()));
        }
        let n = values[0].len();
        if n == 0 || !n.is_power_of_two() {
            return Err(GpuError::InvalidInput(format!(
                "polynomial length {n} is not a power of two"
            )));
        }
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| v.len() != n) {
            return Err(GpuError::InvalidInput(format!(
                "polynomial {i} has {} values, polynomial 0 has {n}",
                v.len()
            )));
        }
        let lane = self.lane()?;
        guarded("uploading", || {
            let s = lane.stream();
            let mut dev = unsafe { s.alloc::<u64>(width * n) }.during("allocating")?;
            for (i, v) in values.iter().enumerate() {
                let mut dst = dev.slice_mut(i * n..(i + 1) * n);
                s.memcpy_htod(as_u64(v), &mut dst)
                    .during("copying values to the device")?;
            }
            // plonky2 may hold non-canonical representatives; the kernels need canonical ones.
            let total = (width * n) as u64;
            let mut b = s.launch_builder(&self.kernels.canonicalize);
            b.arg(&mut dev).arg(&total);
            unsafe { b.launch(grid(total, BLOCK)?) }.during("launching gl_canonicalize")?;
            // The batch is complete when it is handed out: the next call may take another lane.
            s.synchronize().during("uploading")?;
            Ok(DeviceBatch {
                values: dev,
                width,
                log_n: n.trailing_zeros(),
            })
        })
    }

    /// The tables for (log_n, rate_bits), built on `s` at first use. Other lanes read them, so
    /// they are complete before they enter the cache.
    fn tables(
        &self,
        s: &Arc<CudaStream>,
        log_n: u32,
        rate_bits: u32,
    ) -> Result<Arc<Tables>, GpuError> {
        let mut cache = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = cache.get(&(log_n, rate_bits)) {
            return Ok(t.clone());
        }
        let n = 1usize << log_n;
        let half = (n / 2).max(1);
        let w_n = F::primitive_root_of_unity(log_n as usize);
        let w_big = F::primitive_root_of_unity((log_n + rate_bits) as usize);
        let shift = F::coset_shift();
        let mut tw_fwd = s.alloc_zeros::<u64>(half).during("allocating")?;
        let mut tw_inv = s.alloc_zeros::<u64>(half).during("allocating")?;
        self.pow_table(s, &mut tw_fwd.slice_mut(..), w_n, F::ONE)?;
        self.pow_table(s, &mut tw_inv.slice_mut(..), w_n.inverse(), F::ONE)?;
        let blocks = 1usize << rate_bits;
        let mut coset_pows = s.alloc_zeros::<u64>(n * blocks).during("allocating")?;
        for jb in 0..blocks {
            let j = reverse_bits(jb, rate_bits);
            let g = shift * w_big.exp_u64(j as u64);
            self.pow_table(
                s,
                &mut coset_pows.slice_mut(jb * n..(jb + 1) * n),
                g,
                F::ONE,
            )?;
        }
        s.synchronize().during("building twiddle tables")?;
        let t = Arc::new(Tables {
            tw_fwd,
            tw_inv,
            coset_pows,
        });
        cache.insert((log_n, rate_bits), t.clone());
        Ok(t)
    }

    fn pow_table(
        &self,
        s: &Arc<CudaStream>,
        out: &mut CudaViewMut<'_, u64>,
        base: F,
        scale: F,
    ) -> Result<(), GpuError> {
        let count = out.len() as u64;
        let (base, scale) = (base.to_canonical_u64(), scale.to_canonical_u64());
        let mut b = s.launch_builder(&self.kernels.pow_table);
        b.arg(out).arg(&base).arg(&scale).arg(&count);
        unsafe { b.launch(grid(count, BLOCK)?) }.during("launching pow_table")?;
        Ok(())
    }

    /// In-place DIF NTT (natural order in, bit-reversed out) of `polys` contiguous polynomials of
    /// size 2^log_n with twiddles `tw`.
    fn ntt_dif(
        &self,
        s: &Arc<CudaStream>,
        data: &mut CudaSlice<u64>,
        tw: &CudaSlice<u64>,
        log_n: u32,
        polys: usize,
    ) -> Result<(), GpuError> {
        if log_n == 0 {
            return Ok(());
        }
        let n = 1u64 << log_n;
        let log_s = log_n.min(LOCAL_LOG);
        let butterflies = polys as u64 * n / 2;
        for log_h in (log_s..log_n).rev() {
            let mut b = s.launch_builder(&self.kernels.ntt_stage);
            b.arg(&mut *data)
                .arg(tw)
                .arg(&log_n)
                .arg(&log_h)
                .arg(&butterflies);
            unsafe { b.launch(grid(butterflies, BLOCK)?) }.during("launching ntt_dif_stage")?;
        }
        let chunk = 1u64 << log_s;
        let chunks = polys as u64 * n / chunk;
        let threads = (chunk / 2).clamp(1, 1024) as u32;
        let cfg = LaunchConfig {
            grid_dim: (
                u32::try_from(chunks)
                    .map_err(|_| GpuError::InvalidInput("batch too large for one launch".into()))?,
                1,
                1,
            ),
            block_dim: (threads, 1, 1),
            shared_mem_bytes: (chunk * 8) as u32,
        };
        let mut b = s.launch_builder(&self.kernels.ntt_local);
        b.arg(&mut *data).arg(tw).arg(&log_n).arg(&log_s);
        unsafe { b.launch(cfg) }.during("launching ntt_dif_local")?;
        Ok(())
    }

    /// Interpolates, extends and commits a batch already on the device. The LDE and the tree stay
    /// there; the cap (2^cap_height digests) is copied back.
    pub fn commit_device(
        &self,
        batch: &DeviceBatch,
        rate_bits: usize,
        cap_height: usize,
    ) -> Result<DeviceCommitment, GpuError> {
        self.check_shape(batch, rate_bits, cap_height)?;
        let (log_n, rate) = (batch.log_n, rate_bits as u32);
        let lane = self.lane()?;
        guarded("committing", || {
            self.commit_inner(
                lane.stream(),
                batch,
                log_n,
                rate,
                cap_height as u32,
                true,
                None,
            )
        })
    }

    /// As [`Self::commit_device`] for a batch of coefficients (from [`Self::upload_coeffs`]):
    /// plonky2's `PolynomialBatch::from_coeffs(coeffs, rate_bits, false, cap_height, ..)`, the
    /// interpolation skipped.
    pub fn commit_coeffs_device(
        &self,
        batch: &DeviceBatch,
        rate_bits: usize,
        cap_height: usize,
    ) -> Result<DeviceCommitment, GpuError> {
        self.check_shape(batch, rate_bits, cap_height)?;
        let (log_n, rate) = (batch.log_n, rate_bits as u32);
        let lane = self.lane()?;
        guarded("committing", || {
            self.commit_inner(
                lane.stream(),
                batch,
                log_n,
                rate,
                cap_height as u32,
                false,
                None,
            )
        })
    }

    /// [`Self::commit_device`], synchronizing after each phase to time it. For measurements:
    /// the synchronizations cost a little overlap.
    pub fn commit_device_profiled(
        &self,
        batch: &DeviceBatch,
        rate_bits: usize,
        cap_height: usize,
    ) -> Result<(DeviceCommitment, CommitPhases), GpuError> {
        self.check_shape(batch, rate_bits, cap_height)?;
        let mut phases = CommitPhases::default();
        let lane = self.lane()?;
        let c = guarded("committing", || {
            self.commit_inner(
                lane.stream(),
                batch,
                batch.log_n,
                rate_bits as u32,
                cap_height as u32,
                true,
                Some(&mut phases),
            )
        })?;
        Ok((c, phases))
    }

    fn check_shape(
        &self,
        batch: &DeviceBatch,
        rate_bits: usize,
        cap_height: usize,
    ) -> Result<(), GpuError> {
        if rate_bits > 8 {
            return Err(GpuError::InvalidInput(format!(
                "rate_bits {rate_bits} above 8"
            )));
        }
        let log_big_n = batch.log_n as usize + rate_bits;
        if log_big_n > 32 {
            return Err(GpuError::InvalidInput(format!(
                "LDE of 2^{log_big_n} rows is beyond the field's two-adicity"
            )));
        }
        if cap_height > log_big_n {
            return Err(GpuError::InvalidInput(format!(
                "cap_height={cap_height} should be at most log2(leaves)={log_big_n}"
            )));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn commit_inner(
        &self,
        s: &Arc<CudaStream>,
        batch: &DeviceBatch,
        log_n: u32,
        rate: u32,
        cap_height: u32,
        interpolate: bool,
        phases: Option<&mut CommitPhases>,
    ) -> Result<DeviceCommitment, GpuError> {
        // Marks the end of a phase when profiling: waits for the device, returns the seconds
        // since the last mark.
        let mut last = Instant::now();
        let mut mark = |s: &CudaStream| -> Result<Option<f64>, GpuError> {
            if phases.is_none() {
                return Ok(None);
            }
            s.synchronize().during("profiling")?;
            let now = Instant::now();
            let dt = now.duration_since(last).as_secs_f64();
            last = now;
            Ok(Some(dt))
        };
        let width = batch.width;
        let n = 1usize << log_n;
        let log_big_n = log_n + rate;
        let big_n = 1usize << log_big_n;
        let tables = self.tables(s, log_n, rate)?;
        mark(s)?;

        let coeffs = if interpolate {
            // Interpolate: inverse NTT on a copy (the batch may be committed again).
            let mut work = s.clone_dtod(&batch.values).during("copying values")?;
            self.ntt_dif(s, &mut work, &tables.tw_inv, log_n, width)?;
            let mut coeffs = unsafe { s.alloc::<u64>(width * n) }.during("allocating")?;
            let n_inv = F::from_canonical_u64(n as u64).inverse().to_canonical_u64();
            let total = (width * n) as u64;
            let mut b = s.launch_builder(&self.kernels.bitrev_scale);
            b.arg(&work)
                .arg(&mut coeffs)
                .arg(&log_n)
                .arg(&n_inv)
                .arg(&total);
            unsafe { b.launch(grid(total, BLOCK)?) }.during("launching bitrev_scale")?;
            drop(work);
            coeffs
        } else {
            // The batch already holds coefficients (from_coeffs); keep a copy with the LDE.
            s.clone_dtod(&batch.values).during("copying coefficients")?
        };
        let interpolate = mark(s)?;

        // Extend onto the coset and evaluate, block by block, straight into leaf order.
        let mut lde = unsafe { s.alloc::<u64>(width * big_n) }.during("allocating the LDE")?;
        let total = (width * big_n) as u64;
        let mut b = s.launch_builder(&self.kernels.lde_expand);
        b.arg(&coeffs)
            .arg(&mut lde)
            .arg(&tables.coset_pows)
            .arg(&log_n)
            .arg(&log_big_n)
            .arg(&total);
        unsafe { b.launch(grid(total, BLOCK)?) }.during("launching lde_expand")?;
        self.ntt_dif(s, &mut lde, &tables.tw_fwd, log_n, width << rate)?;
        let extend = mark(s)?;

        // Merkle tree: leaf digests, then one level per launch up to the cap.
        let (digests, cap_raw) = self.hash_tree(s, &lde, width, log_big_n, cap_height)?;
        let merkle = mark(s)?;
        if let Some(p) = phases {
            p.interpolate_s = interpolate.unwrap_or(0.0);
            p.extend_s = extend.unwrap_or(0.0);
            p.merkle_s = merkle.unwrap_or(0.0);
        }
        let cap = cap_from_u64(&cap_raw);
        Ok(DeviceCommitment {
            coeffs,
            lde,
            digests,
            width,
            log_n,
            rate_bits: rate,
            cap,
        })
    }

    /// Copies a device commitment's coefficients and leaves (transposed to rows on the device)
    /// back to the host.
    pub fn download(&self, c: &DeviceCommitment) -> Result<GpuCommitment, GpuError> {
        let mut lane = self.lane()?;
        guarded("downloading", || {
            let s = Arc::clone(lane.stream());
            let n = 1usize << c.log_n;
            let big_n = c.num_leaves();
            let mut rows = unsafe { s.alloc::<u64>(c.width * big_n) }.during("allocating")?;
            let width_u32 = c.width as u32;
            let rows_u64 = big_n as u64;
            let cfg = LaunchConfig {
                grid_dim: (
                    u32::try_from(big_n.div_ceil(32)).map_err(|_| {
                        GpuError::InvalidInput("too many rows for one launch".into())
                    })?,
                    c.width.div_ceil(32) as u32,
                    1,
                ),
                block_dim: (32, 8, 1),
                shared_mem_bytes: 0,
            };
            let mut b = s.launch_builder(&self.kernels.transpose);
            b.arg(&c.lde).arg(&mut rows).arg(&width_u32).arg(&rows_u64);
            unsafe { b.launch(cfg) }.during("launching transpose")?;
            let mut leaves = vec![0u64; c.width * big_n];
            self.copy_to_host(lane.lane(), &rows.slice(..), &mut leaves)?;
            drop(rows);
            let mut coeffs = vec![0u64; c.width * n];
            self.copy_to_host(lane.lane(), &c.coeffs.slice(..), &mut coeffs)?;
            let coeffs = coeffs
                .chunks_exact(n)
                .map(|col| PolynomialCoeffs::new(into_field_vec(col.to_vec())))
                .collect();
            Ok(GpuCommitment {
                coeffs,
                leaves: into_field_vec(leaves),
                width: c.width,
                degree_log: c.log_n as usize,
                rate_bits: c.rate_bits as usize,
                cap: c.cap.clone(),
            })
        })
    }

    /// The low-degree extension of a batch of coefficients (from [`Self::upload_coeffs`]) onto
    /// plonky2's coset (`F::coset_shift()`, blowup `2^rate_bits`), copied back column by column,
    /// each column in leaf (bit-reversed row) order: no Merkle tree. FRI's combined polynomial
    /// (`lde` + `coset_fft` in plonky2's `prove_openings`) is this, its two extension-field
    /// components as two columns, and its first commit-phase layer reads the values in exactly
    /// this order (`reverse_index_bits_in_place`).
    pub fn lde_to_host(&self, batch: &DeviceBatch, rate_bits: usize) -> Result<Vec<u64>, GpuError> {
        self.check_shape(batch, rate_bits, 0)?;
        let mut lane = self.lane()?;
        guarded("extending", || {
            let (log_n, rate) = (batch.log_n, rate_bits as u32);
            let log_big_n = log_n + rate;
            let big_n = 1usize << log_big_n;
            let s = Arc::clone(lane.stream());
            let tables = self.tables(&s, log_n, rate)?;
            let mut lde =
                unsafe { s.alloc::<u64>(batch.width * big_n) }.during("allocating the LDE")?;
            let total = (batch.width * big_n) as u64;
            let mut b = s.launch_builder(&self.kernels.lde_expand);
            b.arg(&batch.values)
                .arg(&mut lde)
                .arg(&tables.coset_pows)
                .arg(&log_n)
                .arg(&log_big_n)
                .arg(&total);
            unsafe { b.launch(grid(total, BLOCK)?) }.during("launching lde_expand")?;
            self.ntt_dif(&s, &mut lde, &tables.tw_fwd, log_n, batch.width << rate)?;
            let mut host = vec![0u64; batch.width * big_n];
            self.copy_to_host(lane.lane(), &lde.slice(..), &mut host)?;
            Ok(host)
        })
    }

    /// Copies a device commitment's coefficients back (`PolynomialBatch::polynomials`), and
    /// nothing else: the rows and digests stay on the card for [`Self::open_rows`].
    pub fn download_coeffs(
        &self,
        c: &DeviceCommitment,
    ) -> Result<Vec<PolynomialCoeffs<F>>, GpuError> {
        let n = 1usize << c.log_n;
        let mut coeffs = vec![0u64; c.width * n];
        let mut lane = self.lane()?;
        guarded("downloading coefficients", || {
            self.copy_to_host(lane.lane(), &c.coeffs.slice(..), &mut coeffs)
        })?;
        Ok(coeffs
            .chunks_exact(n)
            .map(|col| PolynomialCoeffs::new(into_field_vec(col.to_vec())))
            .collect())
    }

    /// The rows at leaf `indices` of a commitment kept on the card and their Merkle proofs (the
    /// sibling digest of each layer below the cap, bottom first), as plonky2's
    /// `MerkleTree::get(i)` and `MerkleTree::prove(i)` give them: what FRI's query rounds open.
    /// One gather launch (`gather_openings`, kernels/fri.cu) and one small copy back.
    pub fn open_rows(
        &self,
        c: &DeviceCommitment,
        indices: &[usize],
    ) -> Result<Vec<RowAndPath>, GpuError> {
        let log_leaves = c.log_n + c.rate_bits;
        let cap_height = c.cap.0.len().trailing_zeros();
        self.gather(&c.lde, &c.digests, c.width, log_leaves, cap_height, indices)
    }

    /// The rows at leaf `indices` of a tree kept on the card (`rows` column-major in leaf order,
    /// `digests` level by level from the leaves' up to the cap, as [`Self::hash_tree`] leaves
    /// them) with the sibling digests of their paths, bottom first.
    fn gather(
        &self,
        rows: &CudaSlice<u64>,
        digests: &CudaSlice<u64>,
        width: usize,
        log_leaves: u32,
        cap_height: u32,
        indices: &[usize],
    ) -> Result<Vec<RowAndPath>, GpuError> {
        let num_leaves = 1usize << log_leaves;
        if let Some(&bad) = indices.iter().find(|&&i| i >= num_leaves) {
            return Err(GpuError::InvalidInput(format!(
                "leaf {bad} of a tree of {num_leaves} leaves"
            )));
        }
        if indices.is_empty() {
            return Ok(Vec::new());
        }
        let layers = log_leaves - cap_height;
        let per = width + 4 * layers as usize;
        let num_queries = u32::try_from(indices.len())
            .map_err(|_| GpuError::InvalidInput("too many queries".into()))?;
        let width_u32 = u32::try_from(width)
            .map_err(|_| GpuError::InvalidInput("too many polynomials".into()))?;
        let lane = self.lane()?;
        let raw = guarded("opening rows", || {
            let s = lane.stream();
            let idx: Vec<u64> = indices.iter().map(|&i| i as u64).collect();
            let idx = s.clone_htod(&idx).during("copying query indices")?;
            let total = indices.len() * per;
            let mut out = unsafe { s.alloc::<u64>(total) }.during("allocating")?;
            let mut b = s.launch_builder(&self.kernels.gather);
            b.arg(rows)
                .arg(digests)
                .arg(&idx)
                .arg(&num_queries)
                .arg(&width_u32)
                .arg(&log_leaves)
                .arg(&layers)
                .arg(&mut out);
            unsafe { b.launch(grid(total as u64, BLOCK)?) }.during("launching gather_openings")?;
            let mut host = vec![0u64; total];
            s.memcpy_dtoh(&out, &mut host)
                .during("copying openings back")?;
            s.synchronize().during("opening rows")?;
            Ok(host)
        })?;
        Ok(raw
            .chunks_exact(per)
            .map(|q| {
                let row = q[..width]
                    .iter()
                    .map(|&v| F::from_canonical_u64(v))
                    .collect();
                (row, cap_from_u64(&q[width..]).0)
            })
            .collect())
    }

    /// Copies every digest below the cap back, level by level as the device keeps them: the
    /// `num_leaves` leaf digests, then each level of half as many, up to (not including) the
    /// cap; 4 u64 per digest. plonky2's `MerkleTree::digests` holds the same digests in its
    /// recursive order (see `backend::plonky2_digest_order`).
    pub fn download_digests(&self, c: &DeviceCommitment) -> Result<Vec<u64>, GpuError> {
        let cap_len = c.cap.0.len();
        let below_cap = c.digests.len() - cap_len * 4;
        let mut out = vec![0u64; below_cap];
        if below_cap > 0 {
            let mut lane = self.lane()?;
            guarded("downloading digests", || {
                self.copy_to_host(lane.lane(), &c.digests.slice(..below_cap), &mut out)
            })?;
        }
        Ok(out)
    }

    /// Copies `src` into `dst` (same length) on `lane`'s stream through its pinned staging
    /// buffers, two chunks in flight, the host side spread over rayon's threads (which also
    /// spreads the page faults of a freshly allocated destination).
    fn copy_to_host(
        &self,
        lane: &mut Lane,
        src: &CudaView<'_, u64>,
        dst: &mut [u64],
    ) -> Result<(), GpuError> {
        use rayon::prelude::*;
        if src.len() != dst.len() {
            return Err(GpuError::InvalidInput("copy of mismatched lengths".into()));
        }
        let full = dst.len() / STAGING_LEN;
        if full > 0 && lane.staging.is_none() {
            // Flags 0: plain page-locked memory. cudarc's default (write-combined) is fast for
            // the device to read but very slow for the CPU to read, which is all we do here.
            // Only a lane that downloads a whole chunk or more pays for its pair.
            let alloc = || unsafe { self.ctx.alloc_pinned_with_flags::<u64>(STAGING_LEN, 0) };
            lane.staging = Some([
                alloc().during("allocating pinned memory")?,
                alloc().during("allocating pinned memory")?,
            ]);
        }
        let s = Arc::clone(&lane.stream);
        // cudarc sizes a device-to-host copy by its destination, so only whole chunks go
        // through the staging buffers; the remainder is copied straight into `dst`.
        let chunk = |k: usize| src.slice(k * STAGING_LEN..(k + 1) * STAGING_LEN);
        if full > 0 {
            let bufs = lane.staging.as_mut().expect("allocated above");
            // An explicit event per copy, recorded on this lane's stream.
            let mut copied = Vec::with_capacity(full);
            s.memcpy_dtoh(&chunk(0), &mut bufs[0])
                .during("copying to the host")?;
            copied.push(s.record_event(None).during("recording an event")?);
            for k in 0..full {
                if k + 1 < full {
                    s.memcpy_dtoh(&chunk(k + 1), &mut bufs[(k + 1) % 2])
                        .during("copying to the host")?;
                    copied.push(s.record_event(None).during("recording an event")?);
                }
                copied[k].synchronize().during("copying to the host")?;
                let staged = bufs[k % 2].as_slice().during("copying to the host")?;
                dst[k * STAGING_LEN..(k + 1) * STAGING_LEN]
                    .par_chunks_mut(1 << 16)
                    .zip(staged.par_chunks(1 << 16))
                    .for_each(|(d, s)| d.copy_from_slice(s));
            }
        }
        let done = full * STAGING_LEN;
        if done < dst.len() {
            s.memcpy_dtoh(&src.slice(done..), &mut dst[done..])
                .during("copying to the host")?;
        }
        s.synchronize().during("copying to the host")
    }

    /// Runs the `quotient_values` kernel (kernels/quotient.cu) over resident LDEs and copies the
    /// values back, `dims.num_ch` columns of `2^dims.log_lde` values. The tables are built by
    /// `crate::quotient`, which documents their layout. With `interpolate`, each column is first
    /// interpolated on the card, plonky2's `coset_ifft(F::coset_shift())` (inverse NTT,
    /// `bitrev_scale`, `coset_scale` by the shift's inverse), and the coefficients come back.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn quotient_launch(
        &self,
        wires: &DeviceCommitment,
        constants_sigmas: &DeviceCommitment,
        zs: &DeviceCommitment,
        k_is: &[u64],
        challenges: &[u64],
        alpha_powers: &[u64],
        misc: &[u64],
        gates: &[u32],
        dims: QuotientDims,
        interpolate: bool,
    ) -> Result<Vec<u64>, GpuError> {
        let mut lane = self.lane()?;
        guarded("evaluating the quotient", || {
            let s = Arc::clone(lane.stream());
            let up = |v: &[u64]| s.clone_htod(v).during("copying quotient tables");
            let (k_is, chal, apow, misc) =
                (up(k_is)?, up(challenges)?, up(alpha_powers)?, up(misc)?);
            let gates = s.clone_htod(gates).during("copying the gate table")?;
            let points = 1usize << dims.log_lde;
            let total = dims.num_ch as usize * points;
            let mut out = unsafe { s.alloc::<u64>(total) }.during("allocating")?;
            let mut b = s.launch_builder(&self.kernels.quotient);
            b.arg(&wires.lde)
                .arg(&constants_sigmas.lde)
                .arg(&zs.lde)
                .arg(&k_is)
                .arg(&chal)
                .arg(&apow)
                .arg(&misc)
                .arg(&gates)
                .arg(&dims)
                .arg(&mut out);
            unsafe { b.launch(grid(points as u64, QUOTIENT_BLOCK)?) }
                .during("launching quotient_values")?;
            if interpolate {
                out = self.coset_interpolate(&s, out, dims.log_lde, dims.num_ch as usize)?;
            }
            let mut host = vec![0u64; total];
            self.copy_to_host(lane.lane(), &out.slice(..), &mut host)?;
            Ok(host)
        })
    }

    /// plonky2's `coset_ifft(F::coset_shift())` of `polys` contiguous columns of `2^log_n` values
    /// (natural order), on stream `s`: the inverse DIF NTT (bit-reversed out), `bitrev_scale`
    /// (natural order, times 1/n), then `coset_scale` by the shift's inverse.
    fn coset_interpolate(
        &self,
        s: &Arc<CudaStream>,
        mut values: CudaSlice<u64>,
        log_n: u32,
        polys: usize,
    ) -> Result<CudaSlice<u64>, GpuError> {
        let n = 1usize << log_n;
        let total = (polys * n) as u64;
        if values.len() as u64 != total {
            return Err(GpuError::InvalidInput(format!(
                "{} values to interpolate as {polys} columns of 2^{log_n}",
                values.len()
            )));
        }
        let tables = self.tables(s, log_n, 0)?;
        self.ntt_dif(s, &mut values, &tables.tw_inv, log_n, polys)?;
        let mut coeffs = unsafe { s.alloc::<u64>(polys * n) }.during("allocating")?;
        let n_inv = F::from_canonical_u64(n as u64).inverse().to_canonical_u64();
        let mut b = s.launch_builder(&self.kernels.bitrev_scale);
        b.arg(&values)
            .arg(&mut coeffs)
            .arg(&log_n)
            .arg(&n_inv)
            .arg(&total);
        unsafe { b.launch(grid(total, BLOCK)?) }.during("launching bitrev_scale")?;
        let shift_inv = F::coset_shift().inverse().to_canonical_u64();
        let mut b = s.launch_builder(&self.kernels.coset_scale);
        b.arg(&mut coeffs).arg(&shift_inv).arg(&log_n).arg(&total);
        unsafe { b.launch(grid(total, BLOCK)?) }.during("launching coset_scale")?;
        Ok(coeffs)
    }

    /// Copies `data` (canonical field elements) to the device, complete when it returns (other
    /// lanes read it): the permutation's sigma values, which a backend keeps per circuit.
    pub(crate) fn upload_u64(&self, data: &[u64]) -> Result<CudaSlice<u64>, GpuError> {
        let lane = self.lane()?;
        guarded("uploading", || {
            let s = lane.stream();
            let dev = s.clone_htod(data).during("copying to the device")?;
            s.synchronize().during("uploading")?;
            Ok(dev)
        })
    }

    /// The permutation argument's Z and partial products (kernels/permutation.cu) from the
    /// routed wire columns (`wires`, row order) and the circuit's sigma values (`sigmas`,
    /// row-major, `num_routed` per row), copied back in plonky2's order: the Z of each challenge,
    /// then the `num_prods` partial products of challenge 0, of challenge 1, ... (`n` values
    /// each). Every scalar is canonical; `generator` is the subgroup's generator.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn permutation_launch(
        &self,
        wires: &DeviceBatch,
        sigmas: &CudaSlice<u64>,
        k_is: &[u64],
        betas: &[u64],
        gammas: &[u64],
        generator: u64,
        degree: usize,
        num_prods: usize,
    ) -> Result<Vec<u64>, GpuError> {
        let num_routed = wires.width;
        let log_n = wires.log_n;
        let n = 1usize << log_n;
        let challenges = betas.len();
        let chunks = num_routed.div_ceil(degree.max(1));
        if degree == 0
            || chunks != num_prods + 1
            || chunks > PERM_MAX_CHUNKS
            || k_is.len() != num_routed
            || gammas.len() != challenges
            || challenges == 0
            || sigmas.len() != n * num_routed
        {
            return Err(GpuError::InvalidInput(format!(
                "permutation of {num_routed} routed wires ({} k_i, {} sigma values for {n} rows) \
                 in chunks of {degree} for {num_prods} partial products (at most \
                 {PERM_MAX_CHUNKS} chunks), {challenges} betas and {} gammas",
                k_is.len(),
                sigmas.len(),
                gammas.len()
            )));
        }
        let log_block = log_n.min(PERM_LOG_BLOCK);
        let blocks = 1usize << (log_n - log_block);
        let as_u32 = |v: usize| {
            u32::try_from(v).map_err(|_| GpuError::InvalidInput(format!("{v} exceeds u32")))
        };
        let (num_routed32, degree32, ch32, chunks32, prods32) = (
            as_u32(num_routed)?,
            as_u32(degree)?,
            as_u32(challenges)?,
            as_u32(chunks)?,
            as_u32(num_prods)?,
        );
        let mut lane = self.lane()?;
        guarded("computing Z and the partial products", || {
            let s = Arc::clone(lane.stream());
            let up = |v: &[u64]| s.clone_htod(v).during("copying permutation tables");
            let (k_is, betas, gammas) = (up(k_is)?, up(betas)?, up(gammas)?);
            let mut zero_den = s.clone_htod(&[0u32][..]).during("allocating")?;
            let mut prefix =
                unsafe { s.alloc::<u64>(challenges * chunks * n) }.during("allocating")?;
            let mut b = s.launch_builder(&self.kernels.perm_quotients);
            b.arg(&wires.values)
                .arg(sigmas)
                .arg(&k_is)
                .arg(&betas)
                .arg(&gammas)
                .arg(&generator)
                .arg(&log_n)
                .arg(&num_routed32)
                .arg(&degree32)
                .arg(&ch32)
                .arg(&mut prefix)
                .arg(&mut zero_den);
            unsafe { b.launch(grid((challenges * n) as u64, BLOCK)?) }
                .during("launching perm_chunk_quotients")?;
            let mut totals = unsafe { s.alloc::<u64>(challenges * blocks) }.during("allocating")?;
            let mut b = s.launch_builder(&self.kernels.perm_block_products);
            b.arg(&prefix)
                .arg(&log_n)
                .arg(&chunks32)
                .arg(&ch32)
                .arg(&log_block)
                .arg(&mut totals);
            unsafe { b.launch(grid((challenges * blocks) as u64, BLOCK)?) }
                .during("launching perm_block_products")?;
            let zero = s
                .clone_dtoh(&zero_den)
                .during("copying the zero flag back")?;
            let totals = s
                .clone_dtoh(&totals)
                .during("copying block products back")?;
            s.synchronize().during("computing the block products")?;
            if zero.first().copied().unwrap_or(0) != 0 {
                return Err(GpuError::InvalidInput(
                    "a permutation denominator w + beta sigma + gamma is zero".into(),
                ));
            }
            let carries = block_carries(&totals, blocks);
            let carries = s.clone_htod(&carries).during("copying the carries")?;
            let rows = challenges * (1 + num_prods) * n;
            let mut out = unsafe { s.alloc::<u64>(rows) }.during("allocating")?;
            let mut b = s.launch_builder(&self.kernels.perm_zs);
            b.arg(&prefix)
                .arg(&carries)
                .arg(&log_n)
                .arg(&chunks32)
                .arg(&ch32)
                .arg(&log_block)
                .arg(&mut out);
            unsafe { b.launch(grid((challenges * blocks) as u64, BLOCK)?) }
                .during("launching perm_zs")?;
            if num_prods > 0 {
                let mut b = s.launch_builder(&self.kernels.perm_partials);
                b.arg(&prefix)
                    .arg(&log_n)
                    .arg(&chunks32)
                    .arg(&ch32)
                    .arg(&prods32)
                    .arg(&mut out);
                unsafe { b.launch(grid((challenges * num_prods * n) as u64, BLOCK)?) }
                    .during("launching perm_partials")?;
            }
            let mut host = vec![0u64; rows];
            self.copy_to_host(lane.lane(), &out.slice(..), &mut host)?;
            Ok(host)
        })
    }

    /// The Merkle tree of `2^log_leaves` rows of `width` elements (`rows` column-major, in leaf
    /// order) on stream `s`: the leaf digests (`hash_or_noop`), then one level per launch up to
    /// the cap, all kept on the card (4 u64 per digest, level after level) and returned with a
    /// copy of the cap (the last `4 << cap_height` of them). Waits for the stream.
    fn hash_tree(
        &self,
        s: &Arc<CudaStream>,
        rows: &CudaSlice<u64>,
        width: usize,
        log_leaves: u32,
        cap_height: u32,
    ) -> Result<(CudaSlice<u64>, Vec<u64>), GpuError> {
        if cap_height > log_leaves {
            return Err(GpuError::InvalidInput(format!(
                "cap_height={cap_height} should be at most log2(leaves)={log_leaves}"
            )));
        }
        let width_u32 = u32::try_from(width)
            .map_err(|_| GpuError::InvalidInput(format!("leaves of {width} elements")))?;
        let count = 1usize << log_leaves;
        let levels = (log_leaves - cap_height) as usize;
        let digests_len: usize = (0..=levels).map(|l| count >> l).sum::<usize>() * 4;
        let mut digests = unsafe { s.alloc::<u64>(digests_len) }.during("allocating digests")?;
        {
            let mut level0 = digests.slice_mut(0..count * 4);
            let num = count as u64;
            let mut b = s.launch_builder(&self.kernels.hash_leaves);
            b.arg(rows).arg(&mut level0).arg(&width_u32).arg(&num);
            unsafe { b.launch(grid(num, HASH_BLOCK)?) }.during("launching hash_leaves")?;
        }
        let mut offset = 0usize;
        for l in 0..levels {
            let len = count >> l;
            let (cur, mut next) = digests.split_at_mut(offset + len * 4);
            let cur = cur.slice(offset..offset + len * 4);
            let mut next = next.slice_mut(0..len * 2);
            let pairs = (len / 2) as u64;
            let mut b = s.launch_builder(&self.kernels.hash_level);
            b.arg(&cur).arg(&mut next).arg(&pairs);
            unsafe { b.launch(grid(pairs, HASH_BLOCK)?) }.during("launching hash_level")?;
            offset += len * 4;
        }
        let mut cap = vec![0u64; (1usize << cap_height) * 4];
        s.memcpy_dtoh(&digests.slice(offset..offset + cap.len()), &mut cap)
            .during("copying the cap back")?;
        s.synchronize().during("hashing a Merkle tree")?;
        Ok((digests, cap))
    }

    /// plonky2's `MerkleTree::new(leaves, cap_height)` hashed on the card (FRI's commit-phase
    /// trees): the rows go up column-major, then the leaf and level kernels of a commitment.
    /// Returns the digests below the cap level by level (the leaves' first, as
    /// [`Self::download_digests`] gives them) and the cap (4 u64 per digest).
    pub(crate) fn hash_rows(
        &self,
        leaves: &[Vec<F>],
        cap_height: usize,
    ) -> Result<(Vec<u64>, Vec<u64>), GpuError> {
        use rayon::prelude::*;
        let count = leaves.len();
        let width = leaves.first().map_or(0, Vec::len);
        if count == 0 || !count.is_power_of_two() || width == 0 {
            return Err(GpuError::InvalidInput(format!(
                "a Merkle tree of {count} leaves of {width} elements (a power of two of \
                 non-empty leaves needed)"
            )));
        }
        if let Some((i, l)) = leaves.iter().enumerate().find(|(_, l)| l.len() != width) {
            return Err(GpuError::InvalidInput(format!(
                "leaf {i} has {} elements, leaf 0 has {width}",
                l.len()
            )));
        }
        let log_leaves = count.trailing_zeros();
        if cap_height > log_leaves as usize {
            return Err(GpuError::InvalidInput(format!(
                "cap_height={cap_height} should be at most log2(leaves)={log_leaves}"
            )));
        }
        let mut columns = vec![0u64; width * count];
        columns
            .par_chunks_mut(count)
            .enumerate()
            .for_each(|(c, column)| {
                for (dst, leaf) in column.iter_mut().zip(leaves) {
                    *dst = leaf[c].to_canonical_u64();
                }
            });
        let mut lane = self.lane()?;
        guarded("hashing a Merkle tree", || {
            let s = Arc::clone(lane.stream());
            let rows = s.clone_htod(&columns).during("copying the leaves")?;
            let (digests, cap) = self.hash_tree(&s, &rows, width, log_leaves, cap_height as u32)?;
            let offset = digests.len() - cap.len();
            let mut below = vec![0u64; offset];
            if offset > 0 {
                self.copy_to_host(lane.lane(), &digests.slice(..offset), &mut below)?;
            }
            s.synchronize().during("hashing a Merkle tree")?;
            Ok((below, cap))
        })
    }

    /// The stream and FRI's proof-of-work kernel (`kernels/pow.cu`), for `crate::pow`.
    pub(crate) fn pow_parts(&self) -> (&Arc<CudaStream>, &CudaFunction) {
        (&self.stream, &self.kernels.pow)
    }

    /// The context's CUDA handle, for callers that add their own kernels on the same device.
    pub fn cuda_context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }
}
