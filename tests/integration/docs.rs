//! The documents say what the code does: every error code the code can answer with is listed in
//! `docs/errors.md` (the live room's frame refusals may be in `docs/live-protocol.md` instead),
//! so a client can handle each one and a new code cannot slip in undocumented.

use std::collections::BTreeSet;
use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((path.display().to_string(), std::fs::read_to_string(&path).expect("read")));
        }
    }
}

/// The string literal right after each `marker` (`marker` ends just before the opening quote).
fn literals_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &text[i + marker.len()..];
            let rest = rest.strip_prefix('"')?;
            let end = rest.find('"')?;
            Some(&rest[..end])
        })
        .filter(|code| !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

/// `ApiError::new(<status>, "code"`: the literal after the first comma.
fn api_error_codes(text: &str) -> Vec<&str> {
    text.match_indices("ApiError::new(")
        .filter_map(|(i, _)| {
            let rest = &text[i + "ApiError::new(".len()..];
            let comma = rest.find(',')?;
            let after = rest[comma + 1..].trim_start();
            let after = after.strip_prefix('"')?;
            Some(&after[..after.find('"')?])
        })
        .collect()
}

/// Values that look like codes in the source but are not error codes (what they are instead).
const NOT_ERRORS: &[(&str, &str)] = &[("standard", "a shipping method"), ("express", "a shipping method")];

#[test]
fn every_error_code_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("crates"), &mut files);
    let mut codes = BTreeSet::new();
    for (_, text) in &files {
        let code = text.split("#[cfg(test)]").next().unwrap_or(text);
        for marker in
            ["rule(", "bad_request(", "conflict(", "unavailable(", "IdentityError::Conflict(", "code: ", "Err((", "Refusal { code: "]
        {
            codes.extend(literals_after(code, marker));
        }
        codes.extend(api_error_codes(code));
    }
    // Commerce's and live's codes are enums (lsn_commerce::Code, lsn_live::Code); the others are
    // still literals.
    codes.extend(lsn_commerce::Code::ALL.iter().map(|c| c.as_str()));
    codes.extend(lsn_live::Code::ALL.iter().map(|c| c.as_str()));
    codes.extend(lsn_creators::Code::ALL.iter().map(|c| c.as_str()));
    codes.extend(lsn_risk::Code::ALL.iter().map(|c| c.as_str()));
    codes.extend(lsn_ops::workflow::Code::ALL.iter().map(|c| c.as_str()));
    codes.extend(lsn_ops::Code::ALL.iter().map(|c| c.as_str()));
    let errors = std::fs::read_to_string(root.join("docs/errors.md")).expect("errors.md");
    let protocol = std::fs::read_to_string(root.join("docs/live-protocol.md")).expect("live-protocol.md");
    assert!(codes.len() > 80, "found the codes: {codes:?}");
    let missing: Vec<&str> = codes
        .iter()
        .copied()
        .filter(|c| !NOT_ERRORS.iter().any(|(n, _)| n == c))
        .filter(|c| !errors.contains(&format!("`{c}`")) && !protocol.contains(&format!("`{c}`")))
        .collect();
    assert!(missing.is_empty(), "error codes the code answers with that docs/errors.md does not list: {missing:?}");
}

/// Each domain's code enum against the table in `docs/errors.md`: every code is in a row whose
/// status is the one the code answers with.
#[test]
fn every_code_answers_with_its_documented_status() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let errors = std::fs::read_to_string(root.join("docs/errors.md")).expect("errors.md");
    let rows: Vec<(u16, &str)> = errors
        .lines()
        .filter_map(|l| {
            let mut cells = l.split('|').map(str::trim).skip(1);
            let status = cells.next()?.parse().ok()?;
            Some((status, cells.next()?))
        })
        .collect();
    let mut wrong = Vec::new();
    let all = lsn_commerce::Code::ALL
        .iter()
        .map(|c| (c.as_str(), c.status()))
        .chain(lsn_live::Code::ALL.iter().map(|c| (c.as_str(), c.status())))
        .chain(lsn_creators::Code::ALL.iter().map(|c| (c.as_str(), c.status())))
        .chain(lsn_ops::workflow::Code::ALL.iter().map(|c| (c.as_str(), c.status())))
        .chain(lsn_ops::Code::ALL.iter().map(|c| (c.as_str(), c.status())));
    for (code, status) in all {
        let documented: Vec<u16> = rows.iter().filter(|(_, codes)| codes.contains(&format!("`{code}`"))).map(|(s, _)| *s).collect();
        if documented != [status.as_u16()] {
            wrong.push(format!("{code}: answers {}, documented {documented:?}", status.as_u16()));
        }
    }
    assert!(rows.len() > 30, "read the table");
    assert!(wrong.is_empty(), "codes whose status docs/errors.md does not say: {wrong:#?}");
}
