//! Sums of per-job gradient contributions that come out the same, bit for bit, on every run.
//!
//! rayon's `fold` + `reduce` groups jobs by how work happens to be stolen, and float addition is
//! not associative, so the weight gradients (and with them a whole training run) differed from
//! one run to the next with the same seed. Here the jobs are cut into a fixed number of contiguous
//! groups whatever the thread count, each group is summed in job order, and the groups are added
//! in group order.

use rayon::prelude::*;

/// Groups the jobs are cut into: enough for two to eight cores to share the work evenly, few
/// enough that the per-group buffers stay small.
const GROUPS: usize = 8;

/// `add(acc, job)` adds job `job`'s contribution into `acc` (`len` values, zero at the start);
/// returns the sum over `0..jobs`.
pub fn fixed_order_sum<F>(jobs: usize, len: usize, add: F) -> Vec<f32>
where
    F: Fn(&mut [f32], usize) + Sync,
{
    let groups = jobs.clamp(1, GROUPS);
    let parts: Vec<Vec<f32>> = (0..groups)
        .into_par_iter()
        .map(|g| {
            let mut acc = vec![0f32; len];
            for job in g * jobs / groups..(g + 1) * jobs / groups {
                add(&mut acc, job);
            }
            acc
        })
        .collect();
    let mut parts = parts.into_iter();
    let mut total = parts.next().unwrap_or_else(|| vec![0f32; len]);
    for part in parts {
        total.iter_mut().zip(&part).for_each(|(t, p)| *t += p);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values whose float sum depends on the order they are added in.
    fn job_value(job: usize) -> f32 {
        if job.is_multiple_of(2) {
            1e8
        } else {
            1.0 + job as f32 * 1e-3
        }
    }

    #[test]
    fn the_same_sum_on_every_run_and_every_thread_count() {
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    fixed_order_sum(101, 3, |acc, job| {
                        for (i, a) in acc.iter_mut().enumerate() {
                            *a += job_value(job) * (i + 1) as f32;
                        }
                    })
                })
        };
        let first = run(1);
        for threads in [1, 2, 3, 4, 8] {
            for _ in 0..5 {
                assert_eq!(run(threads), first, "{threads} threads");
            }
        }
        // And it is the sum: within float rounding of an f64 sum in job order.
        let exact: f64 = (0..101).map(|j| job_value(j) as f64).sum();
        assert!((first[0] as f64 - exact).abs() / exact < 1e-6);
    }

    #[test]
    fn no_jobs_give_zeros() {
        assert_eq!(fixed_order_sum(0, 4, |_, _| unreachable!()), vec![0.0; 4]);
    }
}
