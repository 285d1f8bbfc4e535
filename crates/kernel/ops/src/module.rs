//! What a domain adds to the background runtime: its job handlers, schedules, event
//! subscriptions, the topics it publishes and the job kinds it queues itself. The runtime folds
//! the list of modules into one [`Wiring`]; nothing of a domain's background work is registered
//! anywhere else, and [`Wiring::problems`] names every piece that would never run (a job nobody
//! queues, a topic nobody hears, a schedule for a job without a handler), so a running LSN
//! cannot carry a schedule that was defined and never registered.

use crate::jobs::{JobHandler, Registry};
use crate::outbox::Subscriber;
use crate::schedule::Schedule;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One domain's background work.
#[derive(Clone, Default)]
pub struct Module {
    pub name: &'static str,
    /// Job kind → the code that runs it.
    pub jobs: Vec<(&'static str, Arc<dyn JobHandler>)>,
    pub schedules: Vec<Schedule>,
    /// Topic → job kind (one job per event and subscriber).
    pub subscriptions: Vec<Subscriber>,
    /// Every topic this domain publishes to the outbox.
    pub publishes: Vec<&'static str>,
    /// Topics published for consumers outside this process (or kept as a record only), each with
    /// the reason nobody here subscribes.
    pub external: Vec<(&'static str, &'static str)>,
    /// Job kinds this domain queues itself (not through a schedule or a subscription).
    pub enqueues: Vec<&'static str>,
}

impl Module {
    pub fn new(name: &'static str) -> Self {
        Self { name, ..Self::default() }
    }

    pub fn job(mut self, kind: &'static str, handler: Arc<dyn JobHandler>) -> Self {
        self.jobs.push((kind, handler));
        self
    }

    pub fn schedule(mut self, s: Schedule) -> Self {
        self.schedules.push(s);
        self
    }

    /// `topic` events become `job_kind` jobs (the subscription is named after its job kind, so
    /// one module may have several on a topic, each getting its own job per event).
    pub fn subscribe(mut self, topic: &'static str, job_kind: &'static str) -> Self {
        self.subscriptions.push(Subscriber { name: job_kind, topic, job_kind });
        self
    }

    pub fn publishes(mut self, topics: &[&'static str]) -> Self {
        self.publishes.extend_from_slice(topics);
        self
    }

    pub fn external(mut self, topic: &'static str, why: &'static str) -> Self {
        self.external.push((topic, why));
        self
    }

    pub fn enqueues(mut self, kinds: &[&'static str]) -> Self {
        self.enqueues.extend_from_slice(kinds);
        self
    }
}

/// Every module's background work, folded.
#[derive(Clone, Default)]
pub struct Wiring {
    pub registry: Registry,
    pub schedules: Vec<Schedule>,
    pub subscribers: Vec<Subscriber>,
    /// Topic → the modules that publish it.
    pub published: BTreeMap<&'static str, BTreeSet<&'static str>>,
    pub external: BTreeMap<&'static str, &'static str>,
    /// Job kind → who queues it (`schedule:<name>`, `topic:<topic>`, `module:<name>`).
    pub reached_by: BTreeMap<String, BTreeSet<String>>,
    /// Modules in the order they were folded.
    pub modules: Vec<&'static str>,
    duplicates: Vec<String>,
}

impl Wiring {
    pub fn fold(modules: impl IntoIterator<Item = Module>) -> Self {
        let mut w = Wiring::default();
        for m in modules {
            w.modules.push(m.name);
            for (kind, handler) in m.jobs {
                if w.registry.contains(kind) {
                    w.duplicates.push(format!("job kind {kind} has two handlers (the second from {})", m.name));
                }
                w.registry.register(kind, handler);
            }
            for s in m.schedules {
                if w.schedules.iter().any(|x| x.name == s.name) {
                    w.duplicates.push(format!("schedule {} is defined twice (the second by {})", s.name, m.name));
                }
                w.reached_by.entry(s.job_kind.to_string()).or_default().insert(format!("schedule:{}", s.name));
                w.schedules.push(s);
            }
            for sub in m.subscriptions {
                w.reached_by.entry(sub.job_kind.to_string()).or_default().insert(format!("topic:{}", sub.topic));
                w.subscribers.push(sub);
            }
            for t in m.publishes {
                w.published.entry(t).or_default().insert(m.name);
            }
            for (t, why) in m.external {
                w.external.insert(t, why);
            }
            for k in m.enqueues {
                w.reached_by.entry(k.to_string()).or_default().insert(format!("module:{}", m.name));
            }
        }
        w
    }

    /// Everything defined that would never run, or run without code: empty when the wiring is
    /// sound.
    pub fn problems(&self) -> Vec<String> {
        let mut out = self.duplicates.clone();
        let kinds: BTreeSet<&str> = self.registry.kinds().into_iter().collect();
        for (kind, by) in &self.reached_by {
            if !kinds.contains(kind.as_str()) {
                out.push(format!("job kind {kind} is queued by {} but has no handler", by.iter().cloned().collect::<Vec<_>>().join(", ")));
            }
        }
        for kind in &kinds {
            if !self.reached_by.contains_key(*kind) {
                out.push(format!("job kind {kind} has a handler that no schedule, subscription or module queues"));
            }
        }
        for (topic, by) in &self.published {
            let heard = self.subscribers.iter().any(|s| s.wants(topic));
            if !heard && !self.external.contains_key(topic) {
                out.push(format!(
                    "topic {topic} (published by {}) has no subscriber and is not declared external",
                    by.iter().copied().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        for s in &self.subscribers {
            if !self.published.keys().any(|t| s.wants(t)) {
                out.push(format!("subscription {} → {} listens to a topic nobody publishes", s.topic, s.job_kind));
            }
        }
        for t in self.external.keys() {
            if !self.published.contains_key(t) {
                out.push(format!("topic {t} is declared external but nobody publishes it"));
            }
        }
        out
    }

    /// Whether some module declares that it publishes `topic`.
    pub fn publishes(&self, topic: &str) -> bool {
        self.published.contains_key(topic)
    }

    /// Whether some module declares that it queues `kind` itself (or a schedule or subscription does).
    pub fn reaches(&self, kind: &str) -> bool {
        self.reached_by.contains_key(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{JobContext, JobError};
    use serde_json::Value;

    struct Nop;

    #[async_trait::async_trait]
    impl JobHandler for Nop {
        async fn run(&self, _: &JobContext, _: &Value) -> Result<(), JobError> {
            Ok(())
        }
    }

    fn schedule(name: &'static str, kind: &'static str) -> Schedule {
        Schedule { name, cron: "0 * * * * *", job_kind: kind, payload: Value::Null, description: "test" }
    }

    #[test]
    fn sound_wiring_has_no_problems() {
        let a = Module::new("a").job("a.tick", Arc::new(Nop)).schedule(schedule("tick", "a.tick")).publishes(&["a.happened"]);
        let b = Module::new("b").job("b.react", Arc::new(Nop)).subscribe("a.*", "b.react");
        assert_eq!(Wiring::fold([a, b]).problems(), Vec::<String>::new());
    }

    #[test]
    fn every_unreachable_or_missing_piece_is_named() {
        let a = Module::new("a")
            .job("a.orphan", Arc::new(Nop))
            .schedule(schedule("lost", "a.missing"))
            .publishes(&["a.unheard"])
            .subscribe("nobody.says", "a.orphan")
            .external("never.published", "test");
        let p = Wiring::fold([a]).problems().join("\n");
        assert!(p.contains("job kind a.missing is queued by schedule:lost but has no handler"), "{p}");
        assert!(p.contains("topic a.unheard (published by a) has no subscriber"), "{p}");
        assert!(p.contains("listens to a topic nobody publishes"), "{p}");
        assert!(p.contains("never.published is declared external but nobody publishes it"), "{p}");
        // A handler reached only by a subscription to an unpublished topic still counts as reached
        // (the subscription itself is the problem named above).
        assert!(!p.contains("a.orphan has a handler"), "{p}");
        let dup = Wiring::fold([Module::new("x").job("k", Arc::new(Nop)).enqueues(&["k"]), Module::new("y").job("k", Arc::new(Nop))]);
        assert!(dup.problems().iter().any(|m| m.contains("two handlers")));
    }
}
