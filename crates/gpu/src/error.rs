use thiserror::Error;

/// Why a GPU operation could not run.
#[derive(Debug, Error)]
pub enum GpuError {
    /// libcuda could not be opened: no NVIDIA driver on this machine (or not on the loader path).
    #[error("no CUDA driver found: libcuda could not be loaded ({0}); the GPU prover needs an NVIDIA GPU and its driver")]
    DriverNotFound(String),
    /// libnvrtc could not be opened: the kernels are compiled at run time and need it.
    #[error("NVRTC not found: libnvrtc could not be loaded ({0}); install the CUDA runtime compiler (e.g. the nvidia-cuda-nvrtc wheel) and put it on LD_LIBRARY_PATH")]
    NvrtcNotFound(String),
    /// The driver loaded but reports no device with this ordinal. With `count == 0` there is no
    /// GPU here ([`GpuError::is_unavailable`]); otherwise the ordinal is a misconfiguration.
    #[error("no CUDA device {ordinal}: the driver reports {count} device(s), numbered from 0 among those CUDA_VISIBLE_DEVICES leaves visible")]
    NoDevice {
        /// The ordinal asked for.
        ordinal: usize,
        /// How many devices the driver reports.
        count: usize,
    },
    /// A CUDA driver call failed.
    #[error("CUDA driver call failed while {during}: {source}")]
    Driver {
        /// What was being done.
        during: &'static str,
        /// The driver's error.
        #[source]
        source: cudarc::driver::DriverError,
    },
    /// NVRTC refused the kernel source (the log says why).
    #[error("NVRTC could not compile the kernels: {0}")]
    Compile(String),
    /// The CUDA libraries panicked (e.g. a symbol missing from an old driver); caught so that a
    /// broken installation is reported as an error, not a crash.
    #[error("the CUDA libraries failed while {during}: {message}")]
    Library {
        /// What was being done.
        during: &'static str,
        /// The panic's message.
        message: String,
    },
    /// The arguments do not describe a valid batch.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The card's memory budget (`crate::memory`) cannot take this now: the proofs in flight
    /// hold too much, or it is larger than the whole budget. Transient: the job is failed rather
    /// than another proof's commitments evicted, and is retried.
    #[error("the card's memory budget cannot take {what} now: it needs {needed} bytes and {in_use} of the budget's {limit} are held by the proofs in flight (waited {waited_ms} ms for them); failed rather than evicting another proof's commitments, to be retried")]
    MemoryBudget {
        /// What asked (a proof, a circuit's setup data).
        what: &'static str,
        /// Bytes asked for.
        needed: u64,
        /// Bytes reserved by others when it gave up.
        in_use: u64,
        /// The budget.
        limit: u64,
        /// How long it waited.
        waited_ms: u64,
    },
}

impl GpuError {
    /// Whether the error only says that this machine has no usable GPU (tests skip on these).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            GpuError::DriverNotFound(_)
                | GpuError::NvrtcNotFound(_)
                | GpuError::NoDevice { count: 0, .. }
        ) || matches!(
            self,
            // cuInit answers CUDA_ERROR_NO_DEVICE (100) when a driver is installed but no card is.
            GpuError::Driver { source, .. } if source.0 == cudarc::driver::sys::CUresult::CUDA_ERROR_NO_DEVICE
        )
    }
}

/// Attaches what was being done to a driver error.
pub(crate) trait During<T> {
    fn during(self, what: &'static str) -> Result<T, GpuError>;
}

impl<T> During<T> for Result<T, cudarc::driver::DriverError> {
    fn during(self, what: &'static str) -> Result<T, GpuError> {
        self.map_err(|source| GpuError::Driver {
            during: what,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ordinal_is_unavailable_only_where_there_is_no_card() {
        // No card at all: the circuit prover proves on the CPU, saying so.
        assert!(GpuError::NoDevice {
            ordinal: 0,
            count: 0
        }
        .is_unavailable());
        // Cards, but not this one: a configuration error, reported at start.
        let wrong = GpuError::NoDevice {
            ordinal: 3,
            count: 2,
        };
        assert!(!wrong.is_unavailable());
        let text = wrong.to_string();
        assert!(
            text.contains("no CUDA device 3")
                && text.contains("2 device(s)")
                && text.contains("CUDA_VISIBLE_DEVICES"),
            "{text}"
        );
    }
}
