//! Background work for the terminal UI: a job is a closure run on its own thread whose result comes
//! back over a channel, so the event loop never waits on the network or the disk.
//!
//! The [`App`](super::app::App) only *requests* jobs (it stays a pure state machine that tests can
//! drive); the event loop hands each request to [`Jobs::spawn`] and feeds results back through
//! `App::on_job`. Each job carries the id the app gave it, which is how a stale result (an older
//! request of the same kind) is recognised and dropped: the newest request wins.
//!
//! A long job (training) also sends updates before its result, over the same channel: the work
//! closure gets a `send` for them, and [`JobOutput::is_final`] tells an update from the result.

use std::sync::mpsc::{Receiver, Sender, channel};

use crate::export::Summary;
use crate::retrain::{Event, Outcome};

use super::namer::Naming;

/// What kind of work a job does; at most one of each kind is awaited at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Naming,
    Export,
    Retrain,
}

impl JobKind {
    /// Shown next to the spinner in the status bar.
    pub fn describe(self) -> &'static str {
        match self {
            JobKind::Naming => "asking the LLM",
            JobKind::Export => "exporting",
            JobKind::Retrain => "training",
        }
    }
}

/// A finished job's result; errors are already rendered for the status bar.
#[derive(Debug)]
pub enum JobOutput {
    Naming(Result<Naming, String>),
    Export(Result<(std::path::PathBuf, Summary), String>),
    /// An update of the retrain loop (not final).
    Retrain(Box<Event>),
    /// The retrain loop's end.
    Retrained(Result<Outcome, String>),
}

/// How a job's work sends updates before its result.
pub type Updates<'a> = &'a dyn Fn(JobOutput);

/// A job's work: runs on its own thread, sends updates (if any), returns the result.
pub type JobWork = Box<dyn FnOnce(Updates<'_>) -> JobOutput + Send + 'static>;

/// A requested job: the closure does all the work and must not touch the app.
pub struct Job {
    pub id: u64,
    pub kind: JobKind,
    pub work: JobWork,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// Runs the job on the calling thread (what tests do instead of spawning), handing updates to
    /// `send`. A panic inside the work becomes a failed result, so the app never waits forever on
    /// a job that died.
    pub fn run_here(self, send: Updates<'_>) -> (u64, JobOutput) {
        let kind = self.kind;
        let work = self.work;
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(send)))
            .unwrap_or_else(|_| JobOutput::failed(kind, "the background job crashed"));
        (self.id, out)
    }
}

impl JobOutput {
    pub fn failed(kind: JobKind, why: &str) -> JobOutput {
        match kind {
            JobKind::Naming => JobOutput::Naming(Err(why.to_string())),
            JobKind::Export => JobOutput::Export(Err(why.to_string())),
            JobKind::Retrain => JobOutput::Retrained(Err(why.to_string())),
        }
    }

    /// False for an update that more output follows.
    pub fn is_final(&self) -> bool {
        !matches!(self, JobOutput::Retrain(_))
    }
}

/// Runs jobs on background threads and collects their results.
pub struct Jobs {
    tx: Sender<(u64, JobOutput)>,
    rx: Receiver<(u64, JobOutput)>,
}

impl Default for Jobs {
    fn default() -> Self {
        let (tx, rx) = channel();
        Jobs { tx, rx }
    }
}

impl Jobs {
    pub fn spawn(&self, job: Job) {
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let id = job.id;
            let update = |o: JobOutput| {
                let _ = tx.send((id, o));
            };
            let (id, out) = job.run_here(&update);
            // The receiver is gone only when the UI has quit; the result no longer matters then.
            let _ = tx.send((id, out));
        });
    }

    /// Every result that has arrived, without waiting.
    pub fn finished(&self) -> Vec<(u64, JobOutput)> {
        self.rx.try_iter().collect()
    }

    /// Waits for the next result (tests and the start-up screen use it).
    pub fn wait(&self, timeout: std::time::Duration) -> Option<(u64, JobOutput)> {
        self.rx.recv_timeout(timeout).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn spawned_job_result_comes_back_with_its_id() {
        let jobs = Jobs::default();
        jobs.spawn(Job {
            id: 7,
            kind: JobKind::Naming,
            work: Box::new(|_| JobOutput::Naming(Err("offline".into()))),
        });
        let (id, out) = jobs.wait(Duration::from_secs(10)).expect("job finishes");
        assert_eq!(id, 7);
        assert!(matches!(out, JobOutput::Naming(Err(e)) if e == "offline"));
        assert!(jobs.finished().is_empty());
    }

    #[test]
    fn updates_arrive_before_the_result_over_the_same_channel() {
        let jobs = Jobs::default();
        jobs.spawn(Job {
            id: 4,
            kind: JobKind::Retrain,
            work: Box::new(|send| {
                send(JobOutput::Retrain(Box::new(Event::Note("one".into()))));
                send(JobOutput::Retrain(Box::new(Event::Note("two".into()))));
                JobOutput::Retrained(Err("stopped".into()))
            }),
        });
        let mut seen = Vec::new();
        while let Some((id, out)) = jobs.wait(Duration::from_secs(10)) {
            assert_eq!(id, 4);
            let last = out.is_final();
            seen.push(match out {
                JobOutput::Retrain(e) => match *e {
                    Event::Note(n) => n,
                    other => panic!("unexpected {other:?}"),
                },
                JobOutput::Retrained(Err(e)) => e,
                other => panic!("unexpected {other:?}"),
            });
            if last {
                break;
            }
        }
        assert_eq!(seen, ["one", "two", "stopped"]);
    }

    #[test]
    fn a_panicking_job_reports_a_failure_instead_of_vanishing() {
        let job = Job {
            id: 3,
            kind: JobKind::Export,
            work: Box::new(|_| panic!("disk on fire")),
        };
        let (id, out) = job.run_here(&|_| {});
        assert_eq!(id, 3);
        assert!(matches!(out, JobOutput::Export(Err(e)) if e.contains("crashed")));
    }
}
