//! The burn backend musav trains and predicts on: burn's pure-Rust CPU backend `flex` (gemm-based
//! im2col convolutions, SIMD, rayon threads). Measured with `scripts/bench-train.sh` on the default
//! network (README, "Training speed"): ndarray's convolution backward pass is a naive direct loop that
//! takes seconds per layer, candle cannot run the conv backward pass of this network at all, and
//! libtorch (the bench-only `tch` feature) is no faster than flex with musav's own batch norm and
//! conv weight gradient (`crate::model::ops`), which every backend here implements.
//! The GPU backend (wgpu) is only compiled in with the cargo feature of the same name; these aliases
//! are the one place to point at it (untried: this project has no GPU to test on).

/// Inference (and checkpoint loading) backend.
pub type CpuBackend = burn::backend::Flex;
/// Training backend: `CpuBackend` with autodiff.
pub type TrainBackend = burn::backend::Autodiff<CpuBackend>;

/// Seeds the backend's random numbers for a training (`musav train`, the VA head, its
/// fine-tuning) and keeps them its own while the returned guard lives. burn's CPU backend draws
/// every random number (initial weights, dropout masks) from one generator per process, which
/// `Backend::seed` resets: two trainings at once in one process (the test harness's threads; a
/// library user's) would interleave their draws, and neither would be what its seed says. A
/// training may reseed while it holds the guard.
pub fn seeded(seed: u64) -> std::sync::MutexGuard<'static, ()> {
    static RANDOM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A training that panicked leaves nothing to repair: it is reseeded here.
    let guard = RANDOM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    <TrainBackend as burn::tensor::backend::Backend>::seed(&Default::default(), seed);
    guard
}

/// Caps glibc's heap arenas at `n`. glibc gives each thread that allocates while another holds the
/// lock an arena of its own, up to 8 per core, and [`keep_freed_memory`] keeps every one at its
/// peak: `musav serve` runs predictions on tokio's blocking threads, so its resident memory grew
/// with the number of threads that ever ran one (448 MB at concurrency 16 against 171 MB with two
/// arenas, `scripts/bench-serve.sh`) although only `--workers` predictions run at once.
pub fn cap_heap_arenas(n: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation parameters.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, n.clamp(1, i32::MAX as usize) as i32);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = n;
}

/// Makes glibc keep freed memory in the process heap instead of returning it to the system.
///
/// Every tensor op allocates its output, and glibc serves blocks of a few MB (the network's
/// activations) from fresh `mmap` pages and unmaps them again on free, so each op paid a page fault
/// per 4 KiB written: 13 % of a training step under `perf` (`scripts/bench-train.sh`). With the
/// mmap threshold above the largest activation and trimming off, freed blocks are reused. The
/// process then keeps its peak heap until it exits, which is what a training run needs anyway.
/// Call once at start-up, before other threads allocate; a no-op off glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation thresholds; it is called before the program
    // starts other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
