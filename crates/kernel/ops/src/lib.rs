//! Operations: the transactional outbox, the durable job queue, cron schedules with one leader
//! at a time, and the jobs this crate owns itself (sending mail, taking backups).
//!
//! Rule: a side effect (an email, a provider call) is never performed inside a request. The
//! request writes a job or an outbox event in the same transaction as its change; a worker
//! performs it afterwards, retrying with backoff, and records every run.

pub mod alerts;
pub mod analytics;
pub mod autonomy;
pub mod builtin;
pub mod cleanup;
pub mod codes;
pub mod demo;
pub mod healing;
pub mod incidents;
pub mod jobs;
pub mod lease;
pub mod limit;
pub mod module;
pub mod monitor;
pub mod outbox;
pub mod policy;
pub mod schedule;
pub mod settings;
pub mod summary;
pub mod tasks;
pub mod workflow;

pub use alerts::{AlertType, Priority, Severity};
pub use codes::{Code, OpsError};
pub use jobs::{enqueue, JobContext, JobError, JobHandler, NewJob, Registry, Worker};
pub use module::{Check, HealthCheck, Metrics, Module, NavEntry, Routed, SummarySection, Wiring};
pub use outbox::{publish, Subscriber};
pub use policy::{Policies, PolicyKind};
pub use schedule::{Schedule, Scheduler};
pub use workflow::{Engine, Step, StepCx, StepError, Workflow};
