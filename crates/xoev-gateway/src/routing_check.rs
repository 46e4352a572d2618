//! The routing rules checked against what the routing crate cannot know:
//! the schema catalogue's standards and versions, and the adapters'
//! source and target standards. `routing check`, `run` (at start) and the
//! demo apply it, so a rule that could never work is an error before any
//! message meets it.

use xoev_adapters::Registry;
use xoev_routing::{ConfigError, ConfigErrorKind as K, Router, Rule};
use xoev_schema::{Catalogue, same_version};

/// Every rule's `standard` and `version` must name a catalogue entry as
/// the catalogue writes it (rules match the entry that validated the
/// message, by equality), and its adapter chain must start from the
/// rule's standard and version — every version the rule matches: one
/// without `version` matches all the catalogue has — and go from each
/// step's output to the next step's input. Adapters the registry lacks
/// are the router's own error.
pub fn check_rules(
    router: &Router,
    catalogue: &Catalogue,
    registry: &Registry,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for rule in router.rules() {
        check_standards(rule, catalogue, &mut errors);
        check_chain(rule, catalogue, registry, &mut errors);
    }
    errors
}

/// What is wrong with each adapter of `registry` that reads or writes a
/// standard and version the schema catalogue does not have exactly as the
/// adapter names it (the adapter's input and output are validated against
/// that entry, so it could never run): one line per problem, naming the
/// adapter and what the catalogue has.
pub fn check_adapters(registry: &Registry, catalogue: &Catalogue) -> Vec<String> {
    let mut problems = Vec::new();
    for info in registry.list() {
        for (verb, side) in [("reads", &info.source), ("writes", &info.target)] {
            if let Some(missing) = missing_from(catalogue, side) {
                problems.push(format!("adapter {:?} {verb} {missing}", info.name));
            }
        }
    }
    problems.sort();
    problems
}

/// `S V, which …` where the catalogue lacks `side` as written.
fn missing_from(catalogue: &Catalogue, side: &xoev_adapters::StandardRef) -> Option<String> {
    let entries = catalogue.entries();
    if entries
        .iter()
        .any(|e| e.name == side.standard && e.version == side.version)
    {
        return None;
    }
    let of_standard: Vec<_> = entries.iter().filter(|e| e.name == side.standard).collect();
    Some(
        match of_standard
            .iter()
            .find(|e| same_version(&e.version, &side.version))
        {
            Some(e) => format!(
                "{} {}, which the schema catalogue writes {:?}: write it so in the adapter",
                side.standard, side.version, e.version
            ),
            None => format!(
                "{} {}, which the schema catalogue does not have (it has {})",
                side.standard,
                side.version,
                versions(&of_standard)
            ),
        },
    )
}

fn error(rule: &Rule, kind: K, message: String) -> ConfigError {
    ConfigError {
        kind,
        file: rule.location.file.clone(),
        line: Some(rule.location.line),
        message: format!("rule {:?}: {message}", rule.name),
    }
}

fn check_standards(rule: &Rule, catalogue: &Catalogue, errors: &mut Vec<ConfigError>) {
    let entries = catalogue.entries();
    let standards = rule.standard.0.as_deref().unwrap_or_default();
    for s in standards {
        if !entries.iter().any(|e| e.name == *s) {
            let close = entries.iter().find(|e| e.name.eq_ignore_ascii_case(s));
            errors.push(error(
                rule,
                K::UnknownStandard,
                match close {
                    Some(e) => format!(
                        "standard {s:?} is written {:?} in the schema catalogue",
                        e.name
                    ),
                    None => {
                        let mut names: Vec<&str> =
                            entries.iter().map(|e| e.name.as_str()).collect();
                        names.sort_unstable();
                        names.dedup();
                        format!(
                            "the schema catalogue has no standard {s:?} (it has {})",
                            names.join(", ")
                        )
                    }
                },
            ));
        }
    }
    for v in rule.version.0.as_deref().unwrap_or_default() {
        // the entries of the rule's standards (all, without `standard`)
        let of_rule: Vec<_> = entries
            .iter()
            .filter(|e| standards.is_empty() || standards.contains(&e.name))
            .collect();
        if of_rule.iter().any(|e| e.version == *v) {
            continue;
        }
        let named = if standards.is_empty() {
            "any standard".to_owned()
        } else {
            standards.join(" or ")
        };
        let message = match of_rule.iter().find(|e| same_version(&e.version, v)) {
            Some(e) => format!(
                "version {v:?} is written {:?} in the schema catalogue ({}), and rules match it as written",
                e.version, e.name
            ),
            None => format!(
                "the schema catalogue has no version {v:?} of {named} (it has {})",
                versions(&of_rule)
            ),
        };
        errors.push(error(rule, K::UnknownStandard, message));
    }
}

/// `1.2.0, 1.1.0` — or `none` where the standard is not there at all.
fn versions(entries: &[&xoev_schema::SchemaEntry]) -> String {
    if entries.is_empty() {
        return "none".into();
    }
    entries
        .iter()
        .map(|e| format!("{} {}", e.name, e.version))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_chain(
    rule: &Rule,
    catalogue: &Catalogue,
    registry: &Registry,
    errors: &mut Vec<ConfigError>,
) {
    let Ok(steps) = rule
        .adapters
        .iter()
        .map(|a| registry.get(a))
        .collect::<Result<Vec<_>, _>>()
    else {
        return; // an unknown adapter: the router's error
    };
    if let Some(first) = steps.first() {
        let source = &first.info().source;
        let standards = rule.standard.0.as_deref().unwrap_or_default();
        let versions = rule.version.0.as_deref().unwrap_or_default();
        if !standards.is_empty() && !standards.contains(&source.standard) {
            errors.push(error(
                rule,
                K::AdapterMismatch,
                format!(
                    "adapter {:?} reads {} {}, the rule matches {}",
                    first.info().name,
                    source.standard,
                    source.version,
                    standards.join(" or ")
                ),
            ));
        } else if !versions.is_empty() && !versions.iter().any(|v| same_version(v, &source.version))
        {
            errors.push(error(
                rule,
                K::AdapterMismatch,
                format!(
                    "adapter {:?} reads {} {}, the rule matches version {}",
                    first.info().name,
                    source.standard,
                    source.version,
                    versions.join(" or ")
                ),
            ));
        } else if versions.is_empty() {
            // no version: the rule matches every version of its standards
            // the catalogue has, and the adapter reads one of them
            let unreadable: Vec<String> = catalogue
                .entries()
                .iter()
                .filter(|e| standards.is_empty() || standards.contains(&e.name))
                .filter(|e| {
                    !(e.name == source.standard && same_version(&e.version, &source.version))
                })
                .map(|e| format!("{} {}", e.name, e.version))
                .collect();
            if !unreadable.is_empty() {
                errors.push(error(
                    rule,
                    K::AdapterMismatch,
                    format!(
                        "adapter {:?} reads only {} {}, but the rule names no version and also matches {}: add version = {:?}",
                        first.info().name,
                        source.standard,
                        source.version,
                        unreadable.join(", "),
                        source.version
                    ),
                ));
            }
        }
    }
    for step in &steps {
        let info = step.info();
        for (verb, side) in [("reads", &info.source), ("writes", &info.target)] {
            if let Some(missing) = missing_from(catalogue, side) {
                errors.push(error(
                    rule,
                    K::AdapterMismatch,
                    format!("adapter {:?} {verb} {missing}", info.name),
                ));
            }
        }
    }
    for pair in steps.windows(2) {
        let (a, b) = (pair[0].info(), pair[1].info());
        if a.target.standard != b.source.standard
            || !same_version(&a.target.version, &b.source.version)
        {
            errors.push(error(
                rule,
                K::AdapterMismatch,
                format!(
                    "adapter {:?} writes {} {}, but the next, {:?}, reads {} {}",
                    a.name,
                    a.target.standard,
                    a.target.version,
                    b.name,
                    b.source.standard,
                    b.source.version
                ),
            ));
        }
    }
}
