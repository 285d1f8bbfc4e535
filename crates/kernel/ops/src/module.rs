//! What a domain adds to the process, all in one value: its API routes and HTML pages (each
//! route with its access), job handlers, schedules, event subscriptions, the topics it publishes
//! and the job kinds it queues itself, its migrations, its part of the OpenAPI document, its
//! admin navigation entries, health checks, metrics and the sections it adds to the daily
//! summary. The app folds the list of modules into one [`Wiring`]; nothing of a domain is
//! registered anywhere else, and [`Wiring::problems`] names every piece that would never run or
//! that disagrees with another (a job nobody queues, a topic nobody hears, a schedule for a job
//! without a handler, a route two modules serve, an API operation routed but not documented or
//! documented but not routed, a navigation entry to no page), so a running LSN cannot carry a
//! schedule that was defined and never registered.

use crate::jobs::{JobHandler, Registry};
use crate::outbox::Subscriber;
use crate::schedule::Schedule;
pub use crate::summary::SummarySection;
use lsn_core::access::RouteAccess;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Routes with their state applied and the access check in front of each, and the table of
/// them (what the access tests walk).
#[derive(Clone, Default)]
pub struct Routed {
    pub router: axum::Router,
    pub table: Vec<RouteAccess>,
}

impl Routed {
    pub fn new(router: axum::Router, table: Vec<RouteAccess>) -> Self {
        Self { router, table }
    }
}

/// An entry of the admin navigation: a page of the module's for staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NavEntry {
    pub path: &'static str,
    pub label: &'static str,
}

/// What a health check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// A readiness check of a module's own (run by `/readyz` and `lsn doctor`; keep it cheap).
#[async_trait::async_trait]
pub trait HealthCheck: Send + Sync {
    async fn check(&self) -> Check;
}

/// A module's part of the Prometheus text at `/metrics`.
#[async_trait::async_trait]
pub trait Metrics: Send + Sync {
    async fn render(&self, out: &mut String);
}

/// One domain's part of the process.
#[derive(Clone, Default)]
pub struct Module {
    pub name: &'static str,
    /// JSON API routes (documented in [`Module::openapi`]).
    pub api: Vec<Routed>,
    /// HTML pages and forms.
    pub pages: Vec<Routed>,
    /// Schema steps the module ships (the app's schema must hold them all).
    pub migrations: &'static [lsn_db::Migration],
    /// OpenAPI fragments: `{"paths": {…}, "components": {"schemas": {…}}}`.
    pub openapi: Vec<Value>,
    /// API routes that are deliberately not in the OpenAPI document, each with the reason.
    pub undocumented: Vec<(&'static str, &'static str)>,
    pub nav: Vec<NavEntry>,
    pub health: Vec<Arc<dyn HealthCheck>>,
    pub metrics: Vec<Arc<dyn Metrics>>,
    pub summary: Vec<Arc<dyn SummarySection>>,
    /// Its rate limits (shared across nodes through Redis when `REDIS_URL` is set).
    pub limits: Vec<Arc<crate::limit::RateLimit>>,
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
    /// Its durable workflows, every version still running anywhere.
    pub workflows: Vec<crate::workflow::Workflow>,
    /// Its figures for the analytics aggregation.
    pub analytics: Vec<Arc<dyn crate::analytics::AnalyticsSource>>,
    /// The alert types this domain defines (`lsn_ops::alerts`).
    pub alert_types: Vec<crate::alerts::AlertType>,
    /// The alert types this domain raises (its own or another's).
    pub raises: Vec<&'static str>,
    /// Where the monitoring thresholds' readings come from (each raises its alert type).
    pub metric_sources: Vec<Arc<dyn crate::monitor::MetricSource>>,
    /// The kinds of policy whose decisions this domain asks for (`lsn_ops::policy`).
    pub policies: Vec<crate::policy::PolicyKind>,
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

    pub fn api(mut self, routed: Routed) -> Self {
        self.api.push(routed);
        self
    }

    pub fn pages(mut self, routed: Routed) -> Self {
        self.pages.push(routed);
        self
    }

    pub fn migrations(mut self, steps: &'static [lsn_db::Migration]) -> Self {
        self.migrations = steps;
        self
    }

    pub fn openapi(mut self, fragment: Value) -> Self {
        self.openapi.push(fragment);
        self
    }

    pub fn undocumented(mut self, path: &'static str, why: &'static str) -> Self {
        self.undocumented.push((path, why));
        self
    }

    /// An admin navigation entry: the page and the message key of its label (`admin-nav-…`).
    pub fn nav(mut self, path: &'static str, label: &'static str) -> Self {
        self.nav.push(NavEntry { path, label });
        self
    }

    pub fn health(mut self, check: Arc<dyn HealthCheck>) -> Self {
        self.health.push(check);
        self
    }

    pub fn metrics(mut self, m: Arc<dyn Metrics>) -> Self {
        self.metrics.push(m);
        self
    }

    pub fn summary(mut self, section: Arc<dyn SummarySection>) -> Self {
        self.summary.push(section);
        self
    }

    pub fn limit(mut self, l: Arc<crate::limit::RateLimit>) -> Self {
        self.limits.push(l);
        self
    }

    /// A source of figures for the analytics aggregation (the dashboard's charts).
    pub fn analytics(mut self, a: Arc<dyn crate::analytics::AnalyticsSource>) -> Self {
        self.analytics.push(a);
        self
    }

    /// A workflow definition (register each version a run may still be on).
    pub fn workflow(mut self, w: crate::workflow::Workflow) -> Self {
        self.workflows.push(w);
        self
    }

    /// Defines an alert type (the domain that raises it defines it).
    pub fn alert_type(mut self, t: crate::alerts::AlertType) -> Self {
        self.alert_types.push(t);
        self
    }

    /// Declares the alert types this module raises.
    pub fn raises(mut self, names: &[&'static str]) -> Self {
        self.raises.extend_from_slice(names);
        self
    }

    /// A kind of policy this domain asks for decisions of (its facts, action and default).
    pub fn policy(mut self, kind: crate::policy::PolicyKind) -> Self {
        self.policies.push(kind);
        self
    }

    /// A monitoring metric's source; it raises its alert type.
    pub fn metric_source(mut self, m: Arc<dyn crate::monitor::MetricSource>) -> Self {
        self.raises.push(m.alert_type().name);
        self.metric_sources.push(m);
        self
    }
}

/// A documented operation: `(METHOD, path)`.
type Operation = (String, String);

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
    /// Every module's API routes and pages, merged.
    pub router: axum::Router,
    /// Every route and who may call it (API first, then pages).
    pub routes: Vec<RouteAccess>,
    /// The API's routes alone.
    pub api_routes: Vec<RouteAccess>,
    /// The OpenAPI paths and schemas of every module, merged.
    pub openapi_paths: serde_json::Map<String, Value>,
    pub openapi_schemas: serde_json::Map<String, Value>,
    pub undocumented: BTreeMap<&'static str, &'static str>,
    pub nav: Vec<NavEntry>,
    pub health: Vec<Arc<dyn HealthCheck>>,
    pub metrics: Vec<Arc<dyn Metrics>>,
    pub summary: Vec<Arc<dyn SummarySection>>,
    pub limits: Vec<Arc<crate::limit::RateLimit>>,
    /// Every module's schema steps, in version order.
    pub migrations: Vec<&'static lsn_db::Migration>,
    /// Every module's workflow definitions.
    pub workflows: Vec<crate::workflow::Workflow>,
    /// Every module's analytics sources.
    pub analytics: Vec<Arc<dyn crate::analytics::AnalyticsSource>>,
    /// Alert type name → its definition.
    pub alert_types: BTreeMap<&'static str, crate::alerts::AlertType>,
    /// Alert type → the modules that raise it.
    pub raised: BTreeMap<&'static str, BTreeSet<&'static str>>,
    pub metric_sources: Vec<Arc<dyn crate::monitor::MetricSource>>,
    /// Every module's kinds of policy.
    pub policy_kinds: Vec<crate::policy::PolicyKind>,
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
            for (part, is_api) in m.api.into_iter().map(|r| (r, true)).chain(m.pages.into_iter().map(|r| (r, false))) {
                let mut clash = false;
                for r in &part.table {
                    if w.routes.iter().any(|x| x.method == r.method && x.path == r.path) {
                        w.duplicates.push(format!("{} {} is routed twice (the second time by {})", r.method, r.path, m.name));
                        clash = true;
                    }
                }
                if is_api {
                    w.api_routes.extend(part.table.iter().cloned());
                }
                w.routes.extend(part.table);
                // A clash is a problem to name, not a panic in the router (which refuses overlaps).
                if !clash {
                    w.router = std::mem::take(&mut w.router).merge(part.router);
                }
            }
            for fragment in m.openapi {
                for (section, target) in [("paths", &mut w.openapi_paths), ("schemas", &mut w.openapi_schemas)] {
                    let items = if section == "paths" { &fragment["paths"] } else { &fragment["components"]["schemas"] };
                    for (k, v) in items.as_object().into_iter().flatten() {
                        if target.insert(k.clone(), v.clone()).is_some() {
                            w.duplicates.push(format!("OpenAPI {section} {k} is described twice (the second time by {})", m.name));
                        }
                    }
                }
            }
            w.undocumented.extend(m.undocumented);
            w.nav.extend(m.nav);
            w.health.extend(m.health);
            w.metrics.extend(m.metrics);
            w.summary.extend(m.summary);
            for l in m.limits {
                if w.limits.iter().any(|x| x.name() == l.name()) {
                    w.duplicates.push(format!("rate limit {} is defined twice (the second by {})", l.name(), m.name));
                }
                w.limits.push(l);
            }
            w.migrations.extend(m.migrations.iter());
            for wf in m.workflows {
                if w.workflows.iter().any(|x| x.name == wf.name && x.version == wf.version) {
                    w.duplicates.push(format!("workflow {} version {} is defined twice (the second by {})", wf.name, wf.version, m.name));
                }
                w.duplicates.extend(wf.problems());
                w.workflows.push(wf);
            }
            for a in m.analytics {
                for metric in a.metrics() {
                    if w.analytics.iter().any(|x| x.metrics().iter().any(|y| y.name == metric.name)) {
                        w.duplicates.push(format!("analytics metric {} is measured twice (the second by {})", metric.name, m.name));
                    }
                }
                w.analytics.push(a);
            }
            for t in m.alert_types {
                if w.alert_types.insert(t.name, t).is_some() {
                    w.duplicates.push(format!("alert type {} is defined twice (the second by {})", t.name, m.name));
                }
            }
            for r in m.raises {
                w.raised.entry(r).or_default().insert(m.name);
            }
            for src in m.metric_sources {
                if w.metric_sources.iter().any(|x| x.metric() == src.metric()) {
                    w.duplicates.push(format!("metric {} has two sources (the second from {})", src.metric(), m.name));
                }
                w.metric_sources.push(src);
            }
            for kind in m.policies {
                if w.policy_kinds.iter().any(|k| k.name == kind.name) {
                    w.duplicates.push(format!("policy {} is defined twice (the second by {})", kind.name, m.name));
                }
                w.duplicates.extend(kind.problems());
                w.policy_kinds.push(kind);
            }
        }
        w.migrations.sort_by_key(|m| m.version);
        w
    }

    /// The API operations routed (tRPC's one route for every procedure aside) and the ones the
    /// OpenAPI fragments describe.
    fn operations(&self) -> (BTreeSet<Operation>, BTreeSet<Operation>) {
        let routed = self
            .api_routes
            .iter()
            .filter(|r| r.method != "ANY" && !self.undocumented.contains_key(r.path))
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        let mut documented = BTreeSet::new();
        for (path, item) in &self.openapi_paths {
            for method in item.as_object().into_iter().flat_map(|o| o.keys()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        (routed, documented)
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
        let (routed, documented) = self.operations();
        for (method, path) in routed.difference(&documented) {
            out.push(format!(
                "{method} {path} is routed but not in the OpenAPI document (document it, or declare it undocumented with the reason)"
            ));
        }
        for (method, path) in documented.difference(&routed) {
            out.push(format!("{method} {path} is in the OpenAPI document but nothing routes it"));
        }
        for path in self.undocumented.keys() {
            if !self.api_routes.iter().any(|r| r.path == *path) {
                out.push(format!("{path} is declared undocumented but nothing routes it"));
            }
        }
        for n in &self.nav {
            if !self.routes.iter().any(|r| r.method == "GET" && r.path == n.path) {
                out.push(format!("the admin navigation links {} ({}), which is no page", n.path, n.label));
            }
        }
        for (t, by) in &self.raised {
            if !self.alert_types.contains_key(t) {
                out.push(format!(
                    "alert type {t} is raised by {} but no module defines it",
                    by.iter().copied().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        for t in self.alert_types.keys() {
            if !self.raised.contains_key(t) {
                out.push(format!("alert type {t} is defined but nothing raises it"));
            }
        }
        out
    }

    /// Problems of the schema against the modules: a module's step the app's `schema` lacks, or a
    /// step of `schema` past `history` that no module ships.
    pub fn schema_problems(&self, schema: &lsn_db::Schema, history: &[lsn_db::Migration]) -> Vec<String> {
        let known: BTreeSet<i64> = schema.steps().iter().map(|m| m.version).collect();
        let shipped: BTreeSet<i64> = self.migrations.iter().map(|m| m.version).chain(history.iter().map(|m| m.version)).collect();
        let mut out = Vec::new();
        for v in shipped.difference(&known) {
            out.push(format!("migration {v} is shipped by a module but not in the app's schema"));
        }
        for v in known.difference(&shipped) {
            out.push(format!("migration {v} is in the app's schema but no module ships it"));
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
        Schedule { name, cron: "0 * * * * *", job_kind: kind, payload: Value::Null, description: "test", autonomous: false }
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

    fn routed(paths: &[(&'static str, &'static str)]) -> Routed {
        let mut router = axum::Router::new();
        let mut table = Vec::new();
        for (method, path) in paths {
            router = router.route(path, axum::routing::get(|| async { "ok" }));
            table.push(RouteAccess { method, path, access: lsn_core::access::Access::PUBLIC });
        }
        Routed::new(router, table)
    }

    const KIND: crate::alerts::AlertType =
        crate::alerts::AlertType { name: "a_alert", description: "test", cooldown_secs: 60, incident: crate::alerts::Priority::P3 };

    #[test]
    fn a_raised_alert_type_must_be_defined_and_a_defined_one_raised() {
        let sound = Wiring::fold([Module::new("a").alert_type(KIND), Module::new("b").raises(&["a_alert"])]);
        assert_eq!(sound.problems(), Vec::<String>::new());
        let p = Wiring::fold([Module::new("a").raises(&["ghost"]).alert_type(KIND).alert_type(KIND)]).problems().join("\n");
        assert!(p.contains("alert type ghost is raised by a but no module defines it"), "{p}");
        assert!(p.contains("alert type a_alert is defined twice"), "{p}");
        assert!(p.contains("alert type a_alert is defined but nothing raises it"), "{p}");
    }

    #[test]
    fn routes_documents_and_navigation_must_agree() {
        let documented = serde_json::json!({"paths": {"/api/a": {"get": {}}, "/api/ghost": {"post": {}}}});
        let a = Module::new("a")
            .api(routed(&[("GET", "/api/a"), ("GET", "/api/b"), ("GET", "/api/raw")]))
            .openapi(documented)
            .undocumented("/api/raw", "bytes")
            .undocumented("/api/gone", "nothing")
            .nav("/admin/nowhere", "Nowhere");
        let b = Module::new("b").pages(routed(&[("GET", "/admin/a"), ("GET", "/api/a")])).nav("/admin/a", "A");
        let p = Wiring::fold([a, b]).problems().join("\n");
        assert!(p.contains("GET /api/b is routed but not in the OpenAPI document"), "{p}");
        assert!(p.contains("POST /api/ghost is in the OpenAPI document but nothing routes it"), "{p}");
        assert!(p.contains("/api/gone is declared undocumented but nothing routes it"), "{p}");
        assert!(p.contains("links /admin/nowhere (Nowhere), which is no page"), "{p}");
        assert!(p.contains("GET /api/a is routed twice (the second time by b)"), "{p}");
        assert!(!p.contains("/api/raw is routed"), "{p}");
        assert!(!p.contains("/admin/a (A)"), "{p}");
    }

    #[test]
    fn a_policy_kind_defined_twice_or_with_a_bad_default_is_named() {
        use crate::policy::{Fact, Passes, PolicyKind};
        const FACTS: &[Fact] = &[Fact::number("score", 0.0, 100.0, "test")];
        const GOOD: PolicyKind = PolicyKind {
            name: "p",
            action: "act",
            description: "test",
            facts: FACTS,
            condition: "score > 10",
            escalation_fact: "score",
            escalate_when: Passes::AtLeast,
            escalation_threshold: 90.0,
            approval_required: false,
        };
        assert_eq!(Wiring::fold([Module::new("a").policy(GOOD)]).problems(), Vec::<String>::new());
        let bad = PolicyKind { name: "q", condition: "scor > 10", ..GOOD };
        let p = Wiring::fold([Module::new("a").policy(GOOD).policy(bad), Module::new("b").policy(GOOD)]).problems().join("\n");
        assert!(p.contains("policy p is defined twice (the second by b)"), "{p}");
        assert!(p.contains("policy q: the default condition \"scor > 10\" does not validate"), "{p}");
    }

    #[test]
    fn the_schema_must_hold_every_modules_migrations() {
        const HISTORY: &[lsn_db::Migration] = &[lsn_db::Migration::portable(1, "one", "")];
        const MINE: &[lsn_db::Migration] = &[lsn_db::Migration::portable(2, "two", "")];
        const LOST: &[lsn_db::Migration] = &[lsn_db::Migration::portable(3, "three", "")];
        let w = Wiring::fold([Module::new("a").migrations(MINE)]);
        let complete = lsn_db::Schema::new(&[HISTORY, MINE]).expect("schema");
        assert_eq!(w.schema_problems(&complete, HISTORY), Vec::<String>::new());
        let short = lsn_db::Schema::new(&[HISTORY]).expect("schema");
        assert_eq!(w.schema_problems(&short, HISTORY), ["migration 2 is shipped by a module but not in the app's schema"]);
        let extra = lsn_db::Schema::new(&[HISTORY, MINE, LOST]).expect("schema");
        assert_eq!(w.schema_problems(&extra, HISTORY), ["migration 3 is in the app's schema but no module ships it"]);
    }
}
