//! Policies as data: the decisions LSN takes on its own (send an order to review, approve a
//! payout) written as CEL expressions over typed facts, validated when saved, versioned, tried
//! against the recent real cases before they are put in force, and every decision logged.
//!
//! A domain declares a [`PolicyKind`] in its module ([`crate::Module::policy`]): the policy's
//! name, the one action it decides, the facts a condition may name (each with its type: a
//! number in a range, text, a flag, or an ordinal such as a creator tier, whose members are
//! ranked in the order given), the fact and level above which a person decides instead
//! (`escalation_threshold`), whether every allowed action still needs a person
//! (`approval_required`), and the default condition, seeded as version 1 the first time LSN runs.
//!
//! The runbook writes its conditions in a SQL-like way (`risk_score > 70 AND risk_score < 90`,
//! `amount <= 500 AND creator_tier >= 'silver'`), and those are taken literally: `AND`, `OR` and
//! `NOT` (upper case, outside string literals) are CEL's `&&`, `||` and `!`, and an ordinal
//! compared with a string literal is compared by rank, so `'gold' >= 'silver'`. Every number is a
//! double. A condition is checked when it is saved — it parses, every identifier is a declared
//! fact, every literal compared with an ordinal is one of its members, the operands of each
//! operator have types it takes, the result is a boolean, and it is at most
//! [`MAX_CONDITION`] characters — and a refusal saves nothing.
//!
//! Deciding: the escalation fact past its threshold escalates (a person decides: a task is
//! opened, or the caller's workflow waits for the person's signal); otherwise the condition
//! allows the action or denies it (and with `approval_required`, an allowed action escalates).
//! The condition is compiled once per version and kept (versions never change once saved), so a
//! decision costs one read of the active version, an evaluation of microseconds and the insert
//! of its log row (`cargo run --release -p lsn-ops --example policybench` measures the evaluation).

use crate::codes::{Code, OpsError};
use cel_parser::ast::{operators as op, CallExpr, Expr, IdedExpr};
use cel_parser::reference::Val;
use lsn_core::i18n::{t, t_args};
use lsn_core::SharedClock;
use lsn_db::{Db, RowExt, Tx};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock};

/// The longest condition, in characters.
pub const MAX_CONDITION: usize = 1000;
/// How many logged decisions a dry run replays unless told otherwise (and at most
/// [`MAX_DRY_RUN`]).
pub const DRY_RUN_CASES: i64 = 200;
pub const MAX_DRY_RUN: i64 = 2000;
/// How many changed cases a dry run lists (it counts them all).
pub const DRY_RUN_LISTED: usize = 100;

// ----------------------------------------------------------------------------- kinds

/// The type of a fact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FactType {
    /// A finite number from `min` to `max`.
    Number {
        min: f64,
        max: f64,
    },
    /// Text of at most `max_len` characters.
    Text {
        max_len: usize,
    },
    Bool,
    /// One of its members, ranked in the order given (the first is the lowest).
    Ordinal(&'static [&'static str]),
}

impl FactType {
    fn describe(&self) -> Value {
        match self {
            FactType::Number { min, max } => json!({"type": "number", "min": min, "max": max}),
            FactType::Text { max_len } => json!({"type": "string", "max_length": max_len}),
            FactType::Bool => json!({"type": "bool"}),
            FactType::Ordinal(members) => json!({"type": "ordinal", "members": members}),
        }
    }
}

/// A fact a policy's condition may name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fact {
    pub name: &'static str,
    pub ty: FactType,
    pub description: &'static str,
}

impl Fact {
    pub const fn number(name: &'static str, min: f64, max: f64, description: &'static str) -> Self {
        Self { name, ty: FactType::Number { min, max }, description }
    }
    pub const fn text(name: &'static str, max_len: usize, description: &'static str) -> Self {
        Self { name, ty: FactType::Text { max_len }, description }
    }
    pub const fn flag(name: &'static str, description: &'static str) -> Self {
        Self { name, ty: FactType::Bool, description }
    }
    pub const fn ordinal(name: &'static str, members: &'static [&'static str], description: &'static str) -> Self {
        Self { name, ty: FactType::Ordinal(members), description }
    }
}

/// When the escalation fact passes its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Passes {
    /// At or above it (the runbook's fraud policy: a risk of 90 escalates).
    #[serde(rename = ">=")]
    AtLeast,
    /// Above it (the payout policy: more than $500 escalates).
    #[serde(rename = ">")]
    Above,
}

impl Passes {
    pub fn passes(self, value: f64, threshold: f64) -> bool {
        match self {
            Passes::AtLeast => value >= threshold,
            Passes::Above => value > threshold,
        }
    }
}

/// A kind of policy, declared by the domain that asks for its decisions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicyKind {
    /// `fraud_review`, `payout_approval`.
    pub name: &'static str,
    /// The one action it decides: `review_order`, `approve_payout`.
    pub action: &'static str,
    pub description: &'static str,
    pub facts: &'static [Fact],
    /// The default condition (version 1).
    pub condition: &'static str,
    /// The number fact whose threshold escalates to a person.
    pub escalation_fact: &'static str,
    pub escalate_when: Passes,
    /// The default threshold.
    pub escalation_threshold: f64,
    /// The default of whether every allowed action still needs a person.
    pub approval_required: bool,
}

/// Words a fact may not be called (CEL's reserved words and the runbook's operators).
const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
    "AND",
    "OR",
    "NOT",
];

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl PolicyKind {
    pub fn fact(&self, name: &str) -> Option<&'static Fact> {
        self.facts.iter().find(|f| f.name == name)
    }

    /// What is wrong with the declaration (empty when it is sound): names that are no
    /// identifiers, a fact declared twice, an ordinal with fewer than two members or one twice,
    /// an escalation fact that is not a declared number or a default threshold outside its
    /// range, a default condition that does not validate.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let name = self.name;
        if !is_identifier(name) || !is_identifier(self.action) {
            out.push(format!("policy {name}: its name and action ({}) must be snake_case identifiers", self.action));
        }
        for (i, f) in self.facts.iter().enumerate() {
            if !is_identifier(f.name) || RESERVED.contains(&f.name) {
                out.push(format!("policy {name}: fact {:?} is not a usable identifier", f.name));
            }
            if self.facts[..i].iter().any(|g| g.name == f.name) {
                out.push(format!("policy {name}: fact {} is declared twice", f.name));
            }
            match f.ty {
                FactType::Ordinal(m) if m.len() < 2 => out.push(format!("policy {name}: ordinal {} needs two members or more", f.name)),
                FactType::Ordinal(m) if m.iter().enumerate().any(|(i, x)| m[..i].contains(x)) => {
                    out.push(format!("policy {name}: ordinal {} names a member twice", f.name))
                }
                FactType::Number { min, max } if !(min.is_finite() && max.is_finite() && min < max) => {
                    out.push(format!("policy {name}: number {} needs a finite range", f.name))
                }
                _ => {}
            }
        }
        match self.fact(self.escalation_fact).map(|f| f.ty) {
            Some(FactType::Number { min, max }) => {
                if !(min..=max).contains(&self.escalation_threshold) {
                    out.push(format!(
                        "policy {name}: the escalation threshold {} is outside {}'s range",
                        self.escalation_threshold, self.escalation_fact
                    ));
                }
            }
            _ => out.push(format!("policy {name}: the escalation fact {} is not a declared number", self.escalation_fact)),
        }
        if let Err(e) = compile(self, self.condition) {
            out.push(format!("policy {name}: the default condition {:?} does not validate: {e}", self.condition));
        }
        out
    }

    fn describe(&self) -> Value {
        json!({
            "name": self.name,
            "action": self.action,
            "description": self.description,
            "facts": self.facts.iter().map(|f| {
                let mut d = f.ty.describe();
                d["name"] = json!(f.name);
                d["description"] = json!(f.description);
                d
            }).collect::<Vec<_>>(),
            "escalation": {"fact": self.escalation_fact, "when": self.escalate_when},
        })
    }
}

// ----------------------------------------------------------------------------- translation

/// The runbook's `AND`, `OR` and `NOT` as CEL's `&&`, `||` and `!`: whole upper-case words
/// outside string literals (CEL's quotes, triple quotes, raw and bytes prefixes), everything else
/// as written.
pub fn translate(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 8);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &src[start..i];
            let prefix = word.len() <= 2 && word.chars().all(|c| matches!(c, 'r' | 'R' | 'b' | 'B'));
            if prefix && i < b.len() && (b[i] == b'\'' || b[i] == b'"') {
                out.push_str(word);
                let raw = word.contains(['r', 'R']);
                i = copy_string(src, i, raw, &mut out);
                continue;
            }
            out.push_str(match word {
                "AND" => "&&",
                "OR" => "||",
                "NOT" => "!",
                w => w,
            });
        } else if c == b'\'' || c == b'"' {
            i = copy_string(src, i, false, &mut out);
        } else {
            // Copy one whole character (the input may hold any UTF-8).
            let ch = src[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Copies the string literal starting at `i` (a quote) to `out`; returns the index after it (the
/// end of the input if it is never closed: the parser says so).
fn copy_string(src: &str, i: usize, raw: bool, out: &mut String) -> usize {
    let b = src.as_bytes();
    let q = b[i];
    let triple = b.len() >= i + 3 && b[i + 1] == q && b[i + 2] == q;
    let open = if triple { 3 } else { 1 };
    let mut j = i + open;
    while j < b.len() {
        if b[j] == b'\\' && !raw {
            j += 2;
            continue;
        }
        if b[j] == q && (!triple || (b.len() >= j + 3 && b[j + 1] == q && b[j + 2] == q)) {
            j += open;
            out.push_str(&src[i..j.min(src.len())]);
            return j;
        }
        j += 1;
    }
    out.push_str(&src[i..]);
    src.len()
}

// ----------------------------------------------------------------------------- validation

/// The type of a subexpression as far as it can be known before it runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Number,
    Text,
    Bool,
    /// An ordinal fact (its members).
    Ordinal(&'static [&'static str]),
    Null,
    List,
    /// Not known until it runs (inside a comprehension).
    Dyn,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Number => "number",
            Ty::Text => "string",
            Ty::Bool => "bool",
            Ty::Ordinal(_) => "ordinal",
            Ty::Null => "null",
            Ty::List => "list",
            Ty::Dyn => "dyn",
        }
    }
}

/// A condition ready to run: CEL's tree with its numbers as doubles and the literals compared
/// with an ordinal as their ranks.
#[derive(Debug, Clone)]
pub struct Condition {
    expr: IdedExpr,
}

fn refusal(code: Code, key: &str, args: &[(&str, &str)]) -> OpsError {
    OpsError::field(code, "condition", t_args(key, args))
}

fn mismatch(what: &str, a: Ty, b: Ty) -> OpsError {
    refusal(Code::ConditionTypeMismatch, "policy-type-mismatch", &[("op", what), ("left", a.name()), ("right", b.name())])
}

/// Checks `source` against `kind`'s facts and compiles it. Refused: too long, not CEL, an
/// unknown fact or function, a literal that is no member of the ordinal it is compared with, a
/// type mismatch, a result that is not a boolean.
pub fn compile(kind: &PolicyKind, source: &str) -> Result<Condition, OpsError> {
    let n = source.chars().count();
    if n > MAX_CONDITION {
        return Err(refusal(Code::ConditionTooLong, "policy-too-long", &[("max", &MAX_CONDITION.to_string()), ("length", &n.to_string())]));
    }
    if source.trim().is_empty() {
        return Err(refusal(Code::InvalidCondition, "policy-empty", &[]));
    }
    let translated = translate(source);
    // The parser (antlr4rust's generated code) panics on some incomplete inputs (`a &&`) rather
    // than answering an error: that is a refusal like any other.
    let parsed = std::panic::catch_unwind(|| {
        cel_parser::Parser::default()
            .parse(&translated)
            .map_err(|e| e.errors.first().map(|e| format!("{}:{}: {}", e.pos.0, e.pos.1, e.msg)).unwrap_or_else(|| e.to_string()))
    })
    .unwrap_or_else(|_| Err(t("policy-incomplete")));
    let mut expr = parsed.map_err(|detail| {
        refusal(Code::InvalidCondition, "policy-invalid", &[("detail", &detail.chars().take(300).collect::<String>())])
    })?;
    let mut locals = Vec::new();
    match check(kind, &mut expr, &mut locals)? {
        Ty::Bool | Ty::Dyn => {}
        other => return Err(refusal(Code::ConditionNotBoolean, "policy-not-boolean", &[("type", other.name())])),
    }
    let condition = Condition { expr };
    // A trial run with facts of every declared type finds what the types alone cannot (an
    // operator CEL refuses on these values).
    let probe = Facts::probe(kind);
    match condition.run(&probe) {
        Ok(_) => Ok(condition),
        Err(e) => Err(refusal(Code::InvalidCondition, "policy-invalid", &[("detail", &e)])),
    }
}

const RELATIONS: &[&str] = &[op::LESS, op::LESS_EQUALS, op::GREATER, op::GREATER_EQUALS, op::EQUALS, op::NOT_EQUALS];
const ARITHMETIC: &[&str] = &[op::ADD, op::SUBSTRACT, op::MULTIPLY, op::DIVIDE, op::MODULO];

/// The symbol of an operator, for messages.
fn symbol(func: &str) -> &str {
    func.trim_matches('_').trim_start_matches('@')
}

/// The rank of `member` in `members`, or the refusal naming the members.
fn rank(members: &[&str], member: &str) -> Result<i64, OpsError> {
    members.iter().position(|m| *m == member).map(|i| i as i64).ok_or_else(|| {
        refusal(
            Code::UnknownMember,
            "policy-unknown-member",
            &[("value", &member.chars().take(60).collect::<String>()), ("members", &members.join(", "))],
        )
    })
}

/// Replaces a string literal compared with an ordinal by its rank.
fn rank_literal(e: &mut IdedExpr, members: &'static [&'static str]) -> Result<bool, OpsError> {
    if let Expr::Literal(Val::String(s)) = &e.expr {
        let r = rank(members, s)?;
        e.expr = Expr::Literal(Val::Int(r));
        return Ok(true);
    }
    Ok(false)
}

fn check(kind: &PolicyKind, e: &mut IdedExpr, locals: &mut Vec<String>) -> Result<Ty, OpsError> {
    match &mut e.expr {
        Expr::Literal(v) => Ok(match v {
            Val::Int(i) => {
                let d = *i as f64;
                *v = Val::Double(d);
                Ty::Number
            }
            Val::UInt(u) => {
                let d = *u as f64;
                *v = Val::Double(d);
                Ty::Number
            }
            Val::Double(_) => Ty::Number,
            Val::String(_) => Ty::Text,
            Val::Boolean(_) => Ty::Bool,
            Val::Null => Ty::Null,
            Val::Bytes(_) => return Err(refusal(Code::InvalidCondition, "policy-unsupported", &[("what", "bytes")])),
        }),
        Expr::Ident(name) => {
            if locals.iter().any(|l| l == name) {
                return Ok(Ty::Dyn);
            }
            match kind.fact(name) {
                Some(f) => Ok(match f.ty {
                    FactType::Number { .. } => Ty::Number,
                    FactType::Text { .. } => Ty::Text,
                    FactType::Bool => Ty::Bool,
                    FactType::Ordinal(m) => Ty::Ordinal(m),
                }),
                None => Err(unknown_fact(kind, name)),
            }
        }
        Expr::Select(s) => {
            let mut path = s.field.clone();
            let mut at = &*s.operand;
            while let Expr::Select(inner) = &at.expr {
                path = format!("{}.{path}", inner.field);
                at = &inner.operand;
            }
            if let Expr::Ident(root) = &at.expr {
                path = format!("{root}.{path}");
            }
            Err(unknown_fact(kind, &path))
        }
        Expr::List(l) => {
            for el in &mut l.elements {
                check(kind, el, locals)?;
            }
            Ok(Ty::List)
        }
        Expr::Call(call) => check_call(kind, call, locals),
        Expr::Comprehension(c) => {
            check(kind, &mut c.iter_range, locals)?;
            let mark = locals.len();
            locals.push(c.iter_var.clone());
            if let Some(v) = &c.iter_var2 {
                locals.push(v.clone());
            }
            locals.push(c.accu_var.clone());
            for part in [&mut c.accu_init, &mut c.loop_cond, &mut c.loop_step] {
                check(kind, part, locals)?;
            }
            let ty = check(kind, &mut c.result, locals)?;
            locals.truncate(mark);
            Ok(if ty == Ty::Bool { Ty::Bool } else { Ty::Dyn })
        }
        Expr::Map(_) | Expr::Struct(_) => Err(refusal(Code::InvalidCondition, "policy-unsupported", &[("what", "map")])),
        Expr::Unspecified => Err(refusal(Code::InvalidCondition, "policy-invalid", &[("detail", "empty expression")])),
    }
}

fn unknown_fact(kind: &PolicyKind, name: &str) -> OpsError {
    let facts: Vec<&str> = kind.facts.iter().map(|f| f.name).collect();
    refusal(Code::UnknownFact, "policy-unknown-fact", &[("fact", &name.chars().take(60).collect::<String>()), ("facts", &facts.join(", "))])
}

fn check_call(kind: &PolicyKind, call: &mut CallExpr, locals: &mut Vec<String>) -> Result<Ty, OpsError> {
    let func = call.func_name.clone();
    let f = func.as_str();
    if let Some(target) = &mut call.target {
        // Methods: `text.contains(x)`, `startsWith`, `endsWith`, `size()`; and the list macros
        // the parser has already expanded into comprehensions.
        let on = check(kind, target, locals)?;
        let mut args = Vec::new();
        for a in &mut call.args {
            args.push(check(kind, a, locals)?);
        }
        return match (f, on, args.as_slice()) {
            ("contains" | "startsWith" | "endsWith", Ty::Text | Ty::Dyn, [Ty::Text | Ty::Dyn]) => Ok(Ty::Bool),
            ("size", Ty::Text | Ty::List | Ty::Dyn, []) => Ok(Ty::Number),
            ("contains" | "startsWith" | "endsWith" | "size", _, _) => Err(mismatch(f, on, args.first().copied().unwrap_or(Ty::Null))),
            _ => Err(refusal(Code::UnknownFunction, "policy-unknown-function", &[("function", f)])),
        };
    }
    // `x in [..]` with an ordinal on the left: each literal member by its rank.
    if f == op::IN && call.args.len() == 2 {
        let left = check(kind, &mut call.args[0], locals)?;
        if let (Ty::Ordinal(m), Expr::List(list)) = (left, &mut call.args[1].expr) {
            for el in &mut list.elements {
                if !rank_literal(el, m)? {
                    let ty = check(kind, el, locals)?;
                    if !matches!(ty, Ty::Ordinal(n) if n == m) {
                        return Err(mismatch("in", left, ty));
                    }
                }
            }
            return Ok(Ty::Bool);
        }
        let right = check(kind, &mut call.args[1], locals)?;
        if let Expr::List(list) = &call.args[1].expr {
            // The members' types are known: each must be the left's.
            let mut scratch = list.clone();
            for el in &mut scratch.elements {
                let ty = check(kind, el, &mut locals.clone())?;
                if ty != left && ty != Ty::Dyn && left != Ty::Dyn {
                    return Err(mismatch("in", left, ty));
                }
            }
        } else if !matches!(right, Ty::List | Ty::Dyn) {
            return Err(mismatch("in", left, right));
        }
        return Ok(Ty::Bool);
    }
    if RELATIONS.contains(&f) && call.args.len() == 2 {
        // An ordinal against a string literal: the literal is ranked (and must be a member).
        let (a, b) = call.args.split_at_mut(1);
        let (l, r) = (&mut a[0], &mut b[0]);
        let lt = check(kind, l, locals)?;
        let rt = check(kind, r, locals)?;
        return match (lt, rt) {
            (Ty::Ordinal(m), Ty::Text) if rank_literal(r, m)? => Ok(Ty::Bool),
            (Ty::Text, Ty::Ordinal(m)) if rank_literal(l, m)? => Ok(Ty::Bool),
            (Ty::Ordinal(m), Ty::Ordinal(n)) if m == n => Ok(Ty::Bool),
            (Ty::Number, Ty::Number) | (Ty::Text, Ty::Text) => Ok(Ty::Bool),
            (Ty::Bool, Ty::Bool) | (Ty::Null, _) | (_, Ty::Null) if f == op::EQUALS || f == op::NOT_EQUALS => Ok(Ty::Bool),
            (Ty::Dyn, _) | (_, Ty::Dyn) => Ok(Ty::Bool),
            _ => Err(mismatch(symbol(f), lt, rt)),
        };
    }
    let mut args = Vec::new();
    for a in &mut call.args {
        args.push(check(kind, a, locals)?);
    }
    let all = |want: Ty| args.iter().all(|t| *t == want || *t == Ty::Dyn);
    let first_bad = |want: Ty| args.iter().copied().find(|t| *t != want && *t != Ty::Dyn).unwrap_or(Ty::Dyn);
    match f {
        op::LOGICAL_AND | op::LOGICAL_OR | op::LOGICAL_NOT | op::NOT_STRICTLY_FALSE => {
            if all(Ty::Bool) {
                Ok(Ty::Bool)
            } else {
                Err(mismatch(symbol(f), first_bad(Ty::Bool), Ty::Bool))
            }
        }
        op::CONDITIONAL if args.len() == 3 => {
            if !matches!(args[0], Ty::Bool | Ty::Dyn) {
                return Err(mismatch("?:", args[0], Ty::Bool));
            }
            match (args[1], args[2]) {
                (a, b) if a == b => Ok(a),
                (Ty::Dyn, b) => Ok(b),
                (a, Ty::Dyn) => Ok(a),
                (a, b) => Err(mismatch("?:", a, b)),
            }
        }
        op::ADD if all(Ty::Text) && !args.contains(&Ty::Dyn) => Ok(Ty::Text),
        _ if ARITHMETIC.contains(&f) || f == op::NEGATE => {
            if all(Ty::Number) {
                Ok(Ty::Number)
            } else {
                let bad = first_bad(Ty::Number);
                Err(mismatch(symbol(f), bad, args.iter().copied().find(|t| *t != bad).unwrap_or(Ty::Number)))
            }
        }
        "size" if args.len() == 1 && matches!(args[0], Ty::Text | Ty::List | Ty::Dyn) => Ok(Ty::Number),
        "min" | "max" if !args.is_empty() && all(Ty::Number) => Ok(Ty::Number),
        "double" if args.len() == 1 && matches!(args[0], Ty::Number | Ty::Text | Ty::Dyn) => Ok(Ty::Number),
        "string" if args.len() == 1 && !matches!(args[0], Ty::Ordinal(_)) => Ok(Ty::Text),
        "size" | "min" | "max" | "double" | "string" => Err(mismatch(f, args.first().copied().unwrap_or(Ty::Null), Ty::Null)),
        _ => Err(refusal(Code::UnknownFunction, "policy-unknown-function", &[("function", symbol(f))])),
    }
}

// ----------------------------------------------------------------------------- facts

/// A fact's value, checked against its declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum FactValue {
    Number(f64),
    Text(String),
    Bool(bool),
    /// A member of the ordinal, with its rank.
    Ordinal(&'static str, i64),
}

/// Every declared fact of a kind, each with its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts(BTreeMap<&'static str, FactValue>);

fn bad_fact(code: Code, key: &str, fact: &str, extra: &[(&str, &str)]) -> OpsError {
    let fact = fact.chars().take(60).collect::<String>();
    let mut args = vec![("fact", fact.as_str())];
    args.extend_from_slice(extra);
    OpsError::field(code, "facts", t_args(key, &args))
}

impl Facts {
    /// From a JSON object naming every declared fact (and nothing else). Refused: a missing
    /// fact, an undeclared one, a value of the wrong type, a number that is not finite or is
    /// outside the fact's range, text too long, a value no member of its ordinal.
    pub fn from_json(kind: &PolicyKind, v: &Value) -> Result<Self, OpsError> {
        let obj = v.as_object().ok_or_else(|| OpsError::field(Code::InvalidFact, "facts", t("policy-facts-object")))?;
        if let Some(k) = obj.keys().find(|k| kind.fact(k).is_none()) {
            return Err(OpsError::field(Code::UnknownFact, "facts", unknown_fact(kind, k).to_string()));
        }
        let mut out = BTreeMap::new();
        for f in kind.facts {
            let Some(v) = obj.get(f.name).filter(|v| !v.is_null()) else {
                return Err(bad_fact(Code::MissingFact, "policy-missing-fact", f.name, &[]));
            };
            let value = match f.ty {
                FactType::Number { min, max } => match v.as_f64() {
                    Some(n) if n.is_finite() && (min..=max).contains(&n) => FactValue::Number(n),
                    _ => {
                        return Err(bad_fact(
                            Code::InvalidFact,
                            "policy-fact-range",
                            f.name,
                            &[("min", &min.to_string()), ("max", &max.to_string())],
                        ))
                    }
                },
                FactType::Text { max_len } => match v.as_str() {
                    Some(s) if s.chars().count() <= max_len => FactValue::Text(s.to_string()),
                    _ => return Err(bad_fact(Code::InvalidFact, "policy-fact-text", f.name, &[("max", &max_len.to_string())])),
                },
                FactType::Bool => match v.as_bool() {
                    Some(b) => FactValue::Bool(b),
                    None => return Err(bad_fact(Code::InvalidFact, "policy-fact-bool", f.name, &[])),
                },
                FactType::Ordinal(m) => match v.as_str().and_then(|s| m.iter().position(|x| *x == s)) {
                    Some(i) => FactValue::Ordinal(m[i], i as i64),
                    None => return Err(bad_fact(Code::InvalidFact, "policy-fact-member", f.name, &[("members", &m.join(", "))])),
                },
            };
            out.insert(f.name, value);
        }
        Ok(Facts(out))
    }

    /// As JSON (ordinals by name), the form they are logged in.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in &self.0 {
            m.insert(
                k.to_string(),
                match v {
                    FactValue::Number(n) => json!(n),
                    FactValue::Text(s) => json!(s),
                    FactValue::Bool(b) => json!(b),
                    FactValue::Ordinal(name, _) => json!(name),
                },
            );
        }
        Value::Object(m)
    }

    pub fn number(&self, name: &str) -> Option<f64> {
        match self.0.get(name) {
            Some(FactValue::Number(n)) => Some(*n),
            _ => None,
        }
    }

    /// A value of each fact's type (the middle of a range, the top member), to try a condition.
    fn probe(kind: &PolicyKind) -> Self {
        Facts(
            kind.facts
                .iter()
                .map(|f| {
                    let v = match f.ty {
                        FactType::Number { min, max } => FactValue::Number(min / 2.0 + max / 2.0),
                        FactType::Text { .. } => FactValue::Text(String::new()),
                        FactType::Bool => FactValue::Bool(true),
                        FactType::Ordinal(m) => FactValue::Ordinal(m[m.len().saturating_sub(1)], m.len().saturating_sub(1) as i64),
                    };
                    (f.name, v)
                })
                .collect(),
        )
    }
}

/// The built-in functions, made once (a context per decision only holds its facts).
fn functions() -> &'static cel_interpreter::Context<'static> {
    static ROOT: OnceLock<cel_interpreter::Context<'static>> = OnceLock::new();
    ROOT.get_or_init(cel_interpreter::Context::default)
}

impl Condition {
    /// Runs the condition over `facts`: whether it holds, or why it could not be run.
    pub fn run(&self, facts: &Facts) -> Result<bool, String> {
        use cel_interpreter::Value as V;
        let mut cx = functions().new_inner_scope();
        for (k, v) in &facts.0 {
            let value = match v {
                FactValue::Number(n) => V::Float(*n),
                FactValue::Text(s) => V::String(Arc::new(s.clone())),
                FactValue::Bool(b) => V::Bool(*b),
                FactValue::Ordinal(_, r) => V::Int(*r),
            };
            cx.add_variable_from_value(*k, value);
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| V::resolve(&self.expr, &cx)));
        match result {
            Ok(Ok(V::Bool(b))) => Ok(b),
            Ok(Ok(other)) => Err(format!("the condition gave {other:?}, not true or false")),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the interpreter failed on these facts".into()),
        }
    }
}

// ----------------------------------------------------------------------------- deciding

/// What a decision came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The action is taken.
    Allow,
    /// It is not.
    Deny,
    /// A person decides.
    Escalate,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Escalate => "escalate",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(Outcome::Allow),
            "deny" => Some(Outcome::Deny),
            "escalate" => Some(Outcome::Escalate),
            _ => None,
        }
    }
}

/// A version's rules, compiled.
#[derive(Debug, Clone)]
pub struct Rules {
    pub kind: PolicyKind,
    pub version: i64,
    pub condition: Condition,
    pub escalation_threshold: f64,
    pub approval_required: bool,
}

/// What one evaluation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub outcome: Outcome,
    /// Whether the condition held.
    pub matched: bool,
    /// Whether the escalation fact passed its threshold.
    pub over_threshold: bool,
}

impl Rules {
    /// Decides over checked facts.
    pub fn decide(&self, facts: &Facts) -> Result<Verdict, OpsError> {
        let matched = self
            .condition
            .run(facts)
            .map_err(|e| OpsError::field(Code::PolicyFailed, "condition", t_args("policy-failed", &[("detail", &e)])))?;
        let over = facts.number(self.kind.escalation_fact).is_some_and(|v| self.kind.escalate_when.passes(v, self.escalation_threshold));
        let outcome = match (over, matched, self.approval_required) {
            (true, _, _) => Outcome::Escalate,
            (false, true, true) => Outcome::Escalate,
            (false, true, false) => Outcome::Allow,
            (false, false, _) => Outcome::Deny,
        };
        Ok(Verdict { outcome, matched, over_threshold: over })
    }
}

/// What to do when a decision escalates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnEscalate {
    /// Open a task for a person (one per policy and subject while it is open).
    OpenTask,
    /// Nothing here: the caller's workflow waits for the person's signal.
    Caller,
}

/// A decision, as logged.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Decision {
    pub id: String,
    pub policy: String,
    pub version: i64,
    pub action: String,
    pub outcome: Outcome,
    pub matched: bool,
    pub over_threshold: bool,
    pub facts: Value,
    /// What it is about (an order, a payout).
    pub subject: Option<String>,
    /// A decision asked for by a person trying the policy, not by the shop.
    pub test: bool,
    /// The task a person was given, when it escalated to one.
    pub task_opened: bool,
    pub decided_at: i64,
}

// ----------------------------------------------------------------------------- storage

/// A policy as stored, with its version in force.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Version {
    pub version: i64,
    pub condition: String,
    pub escalation_threshold: f64,
    pub approval_required: bool,
    pub note: String,
    pub created_at: i64,
    pub created_by: String,
    pub active: bool,
}

/// A new version to save, or a proposal to try.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub condition: String,
    /// `None`: the active version's.
    pub escalation_threshold: Option<f64>,
    pub approval_required: Option<bool>,
}

/// A dry run's report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DryRun {
    pub policy: String,
    /// The logged decisions replayed (the newest first, tests left out).
    pub cases: usize,
    pub changed: usize,
    /// Cases whose facts no longer check against the kind (a fact added since).
    pub skipped: usize,
    pub before: BTreeMap<&'static str, usize>,
    pub after: BTreeMap<&'static str, usize>,
    /// The changed cases (the first [`DRY_RUN_LISTED`]).
    pub changes: Vec<Value>,
}

/// Compiled versions by policy and version (a version never changes, so an entry never goes
/// stale).
type Compiled = HashMap<(&'static str, i64), Arc<Rules>>;

/// The policies of this process: the kinds the modules declared (set once they are folded) and
/// the compiled versions.
#[derive(Clone)]
pub struct Policies {
    db: Db,
    clock: SharedClock,
    kinds: Arc<OnceLock<BTreeMap<&'static str, PolicyKind>>>,
    compiled: Arc<RwLock<Compiled>>,
}

const VERSION_COLUMNS: &str = "v.version, v.condition, v.escalation_threshold, v.approval_required, v.note, v.created_at, v.created_by";

fn version_row(r: &lsn_db::Row, active: i64) -> Result<Version, lsn_db::Error> {
    let mut v = version_row_at(r, 0)?;
    v.active = v.version == active;
    Ok(v)
}

fn decision_row(r: &lsn_db::Row) -> Result<Decision, lsn_db::Error> {
    let facts: String = r.try_get(7)?;
    let outcome: String = r.try_get(4)?;
    Ok(Decision {
        id: r.try_get(0)?,
        policy: r.try_get(1)?,
        version: r.try_get(2)?,
        action: r.try_get(3)?,
        outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Deny),
        matched: r.try_get::<i64, _>(5)? != 0,
        over_threshold: r.try_get::<i64, _>(6)? != 0,
        facts: serde_json::from_str(&facts).unwrap_or(Value::Null),
        subject: r.try_get(8)?,
        test: r.try_get::<i64, _>(9)? != 0,
        task_opened: r.try_get::<i64, _>(10)? != 0,
        decided_at: r.try_get(11)?,
    })
}

const DECISION_COLUMNS: &str =
    "id, policy, version, action, outcome, matched, over_threshold, facts, subject, test, task_opened, decided_at";

impl Policies {
    pub fn new(db: Db, clock: SharedClock) -> Self {
        Self { db, clock, kinds: Arc::default(), compiled: Arc::default() }
    }

    /// The kinds the modules declared (once, after the fold).
    pub fn set_kinds(&self, kinds: &[PolicyKind]) {
        let _ = self.kinds.set(kinds.iter().map(|k| (k.name, *k)).collect());
    }

    pub fn kinds(&self) -> Vec<PolicyKind> {
        self.kinds.get().map(|k| k.values().copied().collect()).unwrap_or_default()
    }

    pub fn kind(&self, name: &str) -> Result<PolicyKind, OpsError> {
        self.kinds.get().and_then(|k| k.get(name)).copied().ok_or(OpsError::NotFound)
    }

    /// Seeds version 1 (the kind's default) of every policy not stored yet; returns how many.
    /// Safe with several nodes starting at once (the insert of the policy's row decides).
    pub async fn seed(&self) -> Result<u64, OpsError> {
        let mut n = 0;
        for kind in self.kinds() {
            if self.seed_one(kind).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn seed_one(&self, kind: PolicyKind) -> Result<bool, OpsError> {
        let now = self.clock.now_ms();
        self.db
            .transaction(move |tx| {
                Box::pin(async move {
                    let r = lsn_db::query(
                        "INSERT INTO policies (name, active_version, latest_version, updated_at, updated_by) VALUES ($1, 1, 1, $2, 'lsn') \
                         ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(kind.name)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    if r.rows_affected() == 0 {
                        return Ok(false);
                    }
                    insert_version(
                        tx,
                        kind.name,
                        1,
                        kind.condition,
                        kind.escalation_threshold,
                        kind.approval_required,
                        "default",
                        now,
                        "lsn",
                    )
                    .await?;
                    Ok(true)
                })
            })
            .await
    }

    /// The active version's number (seeding the policy first if it is not stored yet).
    async fn active_version(&self, kind: PolicyKind) -> Result<i64, OpsError> {
        for _ in 0..2 {
            let row =
                lsn_db::query("SELECT active_version FROM policies WHERE name = $1").bind(kind.name).fetch_optional(self.db.read()).await?;
            if let Some(r) = row {
                return Ok(r.try_get(0)?);
            }
            self.seed_one(kind).await?;
        }
        Err(OpsError::NotFound)
    }

    /// Version `version` of `kind`, compiled (once: a version never changes).
    pub async fn rules(&self, kind: PolicyKind, version: i64) -> Result<Arc<Rules>, OpsError> {
        if let Some(r) = self.compiled.read().unwrap_or_else(|e| e.into_inner()).get(&(kind.name, version)) {
            return Ok(r.clone());
        }
        let v = self.version(kind.name, version).await?.ok_or(OpsError::NotFound)?;
        self.compiled_rules(kind, version, &v)
    }

    /// The version in force, compiled.
    pub async fn active(&self, name: &str) -> Result<Arc<Rules>, OpsError> {
        let kind = self.kind(name)?;
        let v = self.active_version(kind).await?;
        self.rules(kind, v).await
    }

    /// `v` compiled and kept (a version never changes).
    fn compiled_rules(&self, kind: PolicyKind, version: i64, v: &Version) -> Result<Arc<Rules>, OpsError> {
        let rules = Arc::new(Rules {
            kind,
            version,
            condition: compile(&kind, &v.condition)?,
            escalation_threshold: v.escalation_threshold,
            approval_required: v.approval_required,
        });
        let mut cache = self.compiled.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert((kind.name, version), rules.clone());
        Ok(rules)
    }

    /// [`Policies::active`] read through `tx`: a caller inside a transaction must not wait for a
    /// second connection from the pool (with every connection held by callers like it — eight
    /// payout runs at once — none would come). A policy not stored yet (seeded at start-up) is
    /// seeded through the pool.
    async fn active_in(&self, tx: &mut Tx, name: &str) -> Result<Arc<Rules>, OpsError> {
        let kind = self.kind(name)?;
        let row = lsn_db::query("SELECT active_version FROM policies WHERE name = $1").bind(kind.name).fetch_optional(&mut **tx).await?;
        let Some(r) = row else { return self.active(name).await };
        let version: i64 = r.try_get(0)?;
        if let Some(r) = self.compiled.read().unwrap_or_else(|e| e.into_inner()).get(&(kind.name, version)) {
            return Ok(r.clone());
        }
        let v = lsn_db::query(&format!("SELECT {VERSION_COLUMNS} FROM policy_versions v WHERE v.policy = $1 AND v.version = $2"))
            .bind(kind.name)
            .bind(version)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| version_row(&r, version))
            .transpose()?
            .ok_or(OpsError::NotFound)?;
        self.compiled_rules(kind, version, &v)
    }

    async fn version(&self, name: &str, version: i64) -> Result<Option<Version>, lsn_db::Error> {
        let active: Option<i64> = lsn_db::query("SELECT active_version FROM policies WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.read())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        lsn_db::query(&format!("SELECT {VERSION_COLUMNS} FROM policy_versions v WHERE v.policy = $1 AND v.version = $2"))
            .bind(name)
            .bind(version)
            .fetch_optional(self.db.read())
            .await?
            .map(|r| version_row(&r, active.unwrap_or(0)))
            .transpose()
    }

    /// Every policy: its kind, its version in force and the newest version's number.
    pub async fn list(&self) -> Result<Vec<Value>, OpsError> {
        self.seed().await?;
        let rows = lsn_db::query(&format!(
            "SELECT p.name, p.latest_version, p.updated_at, p.updated_by, {VERSION_COLUMNS} FROM policies p \
             JOIN policy_versions v ON v.policy = p.name AND v.version = p.active_version ORDER BY p.name"
        ))
        .fetch_all(self.db.read())
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let name: String = r.try_get(0)?;
            // A stored policy no module declares any more is left out (its rows are kept).
            let Ok(kind) = self.kind(&name) else { continue };
            out.push(view(&kind, r)?);
        }
        Ok(out)
    }

    /// One policy and every version of it, the newest first.
    pub async fn get(&self, name: &str) -> Result<(Value, Vec<Version>), OpsError> {
        let kind = self.kind(name)?;
        let active = self.active_version(kind).await?;
        let row = lsn_db::query(&format!(
            "SELECT p.name, p.latest_version, p.updated_at, p.updated_by, {VERSION_COLUMNS} FROM policies p \
             JOIN policy_versions v ON v.policy = p.name AND v.version = p.active_version WHERE p.name = $1"
        ))
        .bind(name)
        .fetch_optional(self.db.read())
        .await?
        .ok_or(OpsError::NotFound)?;
        let versions =
            lsn_db::query(&format!("SELECT {VERSION_COLUMNS} FROM policy_versions v WHERE v.policy = $1 ORDER BY v.version DESC"))
                .bind(name)
                .fetch_all(self.db.read())
                .await?
                .iter()
                .map(|r| version_row(r, active))
                .collect::<Result<Vec<_>, _>>()?;
        Ok((view(&kind, &row)?, versions))
    }

    /// Checks a proposal against its kind and the active version: the condition compiles, the
    /// threshold is a number in the escalation fact's range.
    async fn proposed(&self, kind: PolicyKind, p: &Proposal) -> Result<Rules, OpsError> {
        let condition = compile(&kind, &p.condition)?;
        let active = self.rules(kind, self.active_version(kind).await?).await?;
        let threshold = p.escalation_threshold.unwrap_or(active.escalation_threshold);
        if let Some(FactType::Number { min, max }) = kind.fact(kind.escalation_fact).map(|f| f.ty) {
            if !threshold.is_finite() || !(min..=max).contains(&threshold) {
                return Err(OpsError::field(
                    Code::InvalidThreshold,
                    "escalation_threshold",
                    t_args(
                        "policy-threshold-range",
                        &[("fact", kind.escalation_fact), ("min", &min.to_string()), ("max", &max.to_string())],
                    ),
                ));
            }
        }
        Ok(Rules {
            kind,
            version: 0,
            condition,
            escalation_threshold: threshold,
            approval_required: p.approval_required.unwrap_or(active.approval_required),
        })
    }

    /// Saves `p` as the policy's next version (in force at once when `activate`). Refused,
    /// saving nothing: an unknown policy (404), a condition or threshold that does not check,
    /// a note over 500 characters.
    pub async fn save(&self, name: &str, p: &Proposal, note: &str, activate: bool, who: &str) -> Result<Version, OpsError> {
        let kind = self.kind(name)?;
        if note.chars().count() > 500 {
            return Err(OpsError::field(Code::InvalidNote, "note", t_args("ops-invalid-text", &[("max", "500")])));
        }
        let rules = self.proposed(kind, p).await?;
        let now = self.clock.now_ms();
        let (condition, note, who) = (p.condition.clone(), note.trim().to_string(), who.to_string());
        let (threshold, approval) = (rules.escalation_threshold, rules.approval_required);
        let version = self
            .db
            .transaction(move |tx| {
                let (condition, note, who) = (condition.clone(), note.clone(), who.clone());
                Box::pin(async move {
                    // The policy's row numbers the versions: two saves at once get two numbers.
                    let v: i64 = lsn_db::query(
                        "UPDATE policies SET latest_version = latest_version + 1, updated_at = $2, updated_by = $3 WHERE name = $1 RETURNING latest_version",
                    )
                    .bind(kind.name)
                    .bind(now)
                    .bind(&who)
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or(OpsError::NotFound)?
                    .try_get(0)?;
                    insert_version(tx, kind.name, v, &condition, threshold, approval, &note, now, &who).await?;
                    if activate {
                        lsn_db::query("UPDATE policies SET active_version = $2 WHERE name = $1").bind(kind.name).bind(v).execute(&mut **tx).await?;
                    }
                    Ok::<_, OpsError>(v)
                })
            })
            .await?;
        self.version(name, version).await?.ok_or(OpsError::NotFound)
    }

    /// Puts version `version` in force (an older one: a rollback). 404 for no such version.
    pub async fn activate(&self, name: &str, version: i64, who: &str) -> Result<Version, OpsError> {
        let kind = self.kind(name)?;
        // The version must compile against today's kind (a fact it names may have gone).
        self.rules(kind, version).await?;
        let r = lsn_db::query(
            "UPDATE policies SET active_version = $2, updated_at = $3, updated_by = $4 WHERE name = $1 \
             AND EXISTS (SELECT 1 FROM policy_versions WHERE policy = $1 AND version = $2)",
        )
        .bind(name)
        .bind(version)
        .bind(self.clock.now_ms())
        .bind(who)
        .execute(self.db.write())
        .await?;
        if r.rows_affected() == 0 {
            return Err(OpsError::NotFound);
        }
        self.version(name, version).await?.ok_or(OpsError::NotFound)
    }

    /// Decides with the version in force and logs it, in a transaction of its own (see
    /// [`Policies::decide_in`]).
    pub async fn decide(&self, name: &str, facts: &Value, subject: Option<&str>, on_escalate: OnEscalate) -> Result<Decision, OpsError> {
        let rules = self.active(name).await?;
        let facts = Facts::from_json(&rules.kind, facts)?;
        let verdict = rules.decide(&facts)?;
        let me = self.clone();
        let subject = subject.map(|s| s.chars().take(200).collect::<String>());
        let now = self.clock.now_ms();
        self.db
            .transaction(move |tx| {
                let (me, rules, facts, subject) = (me.clone(), rules.clone(), facts.clone(), subject.clone());
                Box::pin(async move { me.log_in(tx, now, &rules, &facts, verdict, subject.as_deref(), false, on_escalate).await })
            })
            .await
    }

    /// Decides with the version in force inside the caller's transaction (so the decision is
    /// logged with the change it led to, or not at all), opening the person's task there when
    /// it escalates and `on_escalate` says so.
    pub async fn decide_in(
        &self,
        tx: &mut Tx,
        now: i64,
        name: &str,
        facts: &Value,
        subject: Option<&str>,
        on_escalate: OnEscalate,
    ) -> Result<Decision, OpsError> {
        let rules = self.active_in(tx, name).await?;
        let facts = Facts::from_json(&rules.kind, facts)?;
        let verdict = rules.decide(&facts)?;
        self.log_in(tx, now, &rules, &facts, verdict, subject, false, on_escalate).await
    }

    /// A person's trial: decides with `version` (the one in force when `None`) over `facts`;
    /// logged, as a test, only when `log` (a test never opens a task and is left out of dry runs).
    pub async fn evaluate(&self, name: &str, facts: &Value, version: Option<i64>, log: bool) -> Result<Decision, OpsError> {
        let kind = self.kind(name)?;
        let rules = match version {
            Some(v) => self.rules(kind, v).await?,
            None => self.active(name).await?,
        };
        let facts = Facts::from_json(&kind, facts)?;
        let verdict = rules.decide(&facts)?;
        let now = self.clock.now_ms();
        if !log {
            return Ok(decision(&rules, &facts, verdict, None, true, lsn_core::ids::new_id(), now));
        }
        let me = self.clone();
        self.db
            .transaction(move |tx| {
                let (me, rules, facts) = (me.clone(), rules.clone(), facts.clone());
                Box::pin(async move { me.log_in(tx, now, &rules, &facts, verdict, None, true, OnEscalate::Caller).await })
            })
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn log_in(
        &self,
        tx: &mut Tx,
        now: i64,
        rules: &Rules,
        facts: &Facts,
        verdict: Verdict,
        subject: Option<&str>,
        test: bool,
        on_escalate: OnEscalate,
    ) -> Result<Decision, OpsError> {
        let mut d = decision(rules, facts, verdict, subject, test, lsn_core::ids::new_id(), now);
        if d.outcome == Outcome::Escalate && on_escalate == OnEscalate::OpenTask && !test {
            let reference = d.subject.clone().unwrap_or_else(|| d.id.clone());
            let title = t_args("policy-task-title", &[("policy", &d.policy), ("action", &d.action), ("subject", &reference)]);
            let detail =
                t_args("policy-task-detail", &[("version", &d.version.to_string()), ("facts", &d.facts.to_string()), ("decision", &d.id)]);
            d.task_opened = crate::tasks::open_once(tx, now, &format!("policy_{}", d.policy), &title, &detail, &reference).await?;
        }
        lsn_db::query(&format!(
            "INSERT INTO policy_decisions ({DECISION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&d.id)
        .bind(&d.policy)
        .bind(d.version)
        .bind(&d.action)
        .bind(d.outcome.as_str())
        .bind(i64::from(d.matched))
        .bind(i64::from(d.over_threshold))
        .bind(d.facts.to_string())
        .bind(d.subject.as_deref())
        .bind(i64::from(d.test))
        .bind(i64::from(d.task_opened))
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(d)
    }

    /// Replays the newest `limit` logged decisions of `name` (tests left out) under proposal `p`
    /// and reports how many outcomes would change, and which.
    pub async fn dry_run(&self, name: &str, p: &Proposal, limit: i64) -> Result<DryRun, OpsError> {
        let kind = self.kind(name)?;
        let rules = self.proposed(kind, p).await?;
        let rows = lsn_db::query(&format!(
            "SELECT {DECISION_COLUMNS} FROM policy_decisions WHERE policy = $1 AND test = 0 ORDER BY decided_at DESC, id DESC LIMIT $2"
        ))
        .bind(name)
        .bind(limit.clamp(1, MAX_DRY_RUN))
        .fetch_all(self.db.read())
        .await?;
        let cases: Vec<Decision> = rows.iter().map(decision_row).collect::<Result<_, _>>()?;
        Ok(replay(&rules, &cases))
    }

    /// The newest decisions (of one policy when `policy` is given).
    pub async fn decisions(&self, policy: Option<&str>, limit: i64) -> Result<Vec<Decision>, OpsError> {
        Ok(lsn_db::query(&format!(
            "SELECT {DECISION_COLUMNS} FROM policy_decisions WHERE ($1 = '' OR policy = $1) ORDER BY decided_at DESC, id DESC LIMIT $2"
        ))
        .bind(policy.unwrap_or(""))
        .bind(limit.clamp(1, 1000))
        .fetch_all(self.db.read())
        .await?
        .iter()
        .map(decision_row)
        .collect::<Result<_, _>>()?)
    }
}

/// Replays `cases` under `rules`: the counts before and after, and the cases that change.
pub fn replay(rules: &Rules, cases: &[Decision]) -> DryRun {
    let mut report = DryRun {
        policy: rules.kind.name.to_string(),
        cases: cases.len(),
        changed: 0,
        skipped: 0,
        before: BTreeMap::new(),
        after: BTreeMap::new(),
        changes: Vec::new(),
    };
    for o in [Outcome::Allow, Outcome::Deny, Outcome::Escalate] {
        report.before.insert(o.as_str(), 0);
        report.after.insert(o.as_str(), 0);
    }
    for case in cases {
        *report.before.entry(case.outcome.as_str()).or_default() += 1;
        let now = Facts::from_json(&rules.kind, &case.facts).and_then(|f| rules.decide(&f));
        let Ok(now) = now else {
            report.skipped += 1;
            continue;
        };
        *report.after.entry(now.outcome.as_str()).or_default() += 1;
        if now.outcome != case.outcome {
            report.changed += 1;
            if report.changes.len() < DRY_RUN_LISTED {
                report.changes.push(json!({
                    "decision_id": case.id,
                    "decided_at": case.decided_at,
                    "version": case.version,
                    "subject": case.subject,
                    "facts": case.facts,
                    "was": case.outcome,
                    "now": now.outcome,
                }));
            }
        }
    }
    report
}

fn decision(rules: &Rules, facts: &Facts, v: Verdict, subject: Option<&str>, test: bool, id: String, now: i64) -> Decision {
    Decision {
        id,
        policy: rules.kind.name.to_string(),
        version: rules.version,
        action: rules.kind.action.to_string(),
        outcome: v.outcome,
        matched: v.matched,
        over_threshold: v.over_threshold,
        facts: facts.to_json(),
        subject: subject.map(str::to_string),
        test,
        task_opened: false,
        decided_at: now,
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_version(
    tx: &mut Tx,
    name: &str,
    version: i64,
    condition: &str,
    threshold: f64,
    approval: bool,
    note: &str,
    now: i64,
    who: &str,
) -> Result<(), lsn_db::Error> {
    lsn_db::query(
        "INSERT INTO policy_versions (policy, version, condition, escalation_threshold, approval_required, note, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(name)
    .bind(version)
    .bind(condition)
    .bind(threshold)
    .bind(i64::from(approval))
    .bind(note)
    .bind(now)
    .bind(who)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A policy's view: its kind, the active version and the newest version's number.
fn view(kind: &PolicyKind, r: &lsn_db::Row) -> Result<Value, lsn_db::Error> {
    let active = version_row_at(r, 4)?;
    let mut v = kind.describe();
    v["latest_version"] = json!(r.try_get::<i64, _>(1)?);
    v["updated_at"] = json!(r.try_get::<i64, _>(2)?);
    v["updated_by"] = json!(r.try_get::<Option<String>, _>(3)?);
    v["active_version"] = json!(active.version);
    v["condition"] = json!(active.condition);
    v["escalation"]["threshold"] = json!(active.escalation_threshold);
    v["approval_required"] = json!(active.approval_required);
    v["active"] = json!(active);
    Ok(v)
}

/// [`version_row`] over the columns from `at` on.
fn version_row_at(r: &lsn_db::Row, at: usize) -> Result<Version, lsn_db::Error> {
    let version: i64 = r.try_get(at)?;
    Ok(Version {
        version,
        condition: r.try_get(at + 1)?,
        escalation_threshold: r.try_get(at + 2)?,
        approval_required: r.try_get::<i64, _>(at + 3)? != 0,
        note: r.try_get(at + 4)?,
        created_at: r.try_get(at + 5)?,
        created_by: r.try_get(at + 6)?,
        active: true,
    })
}

#[cfg(test)]
mod tests;
