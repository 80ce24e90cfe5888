//! Unit and slice names, checked locally with systemd's rules (`unit_name_is_valid()` and
//! `slice_build_parent_slice()` in systemd's `src/basic/unit-name.c`, and runc's
//! `ExpandSlice` for the dash rules) so that a bad name never reaches the bus.

use crate::error::InputError;

/// systemd's UNIT_NAME_MAX is 256 including the NUL.
const UNIT_NAME_MAX: usize = 255;

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.' | '\\')
}

/// Checks `name` is a valid non-template unit name with the given suffix (e.g. `.scope`).
///
/// # Errors
///
/// [`InputError::InvalidUnitName`] saying which rule the name breaks.
pub fn check_unit_name(name: &str, suffix: &str) -> Result<(), InputError> {
    let bad = |reason| InputError::InvalidUnitName {
        name: name.to_owned(),
        reason,
    };
    if name.len() > UNIT_NAME_MAX {
        return Err(bad("longer than 255 bytes"));
    }
    let Some(stem) = name.strip_suffix(suffix) else {
        return Err(bad("wrong unit type suffix"));
    };
    if stem.is_empty() {
        return Err(bad("empty name before the suffix"));
    }
    let (prefix, instance) = match stem.split_once('@') {
        Some((p, i)) => (p, Some(i)),
        None => (stem, None),
    };
    if prefix.is_empty() {
        return Err(bad("empty prefix before '@'"));
    }
    if let Some(i) = instance {
        if i.is_empty() {
            return Err(bad("template names cannot be started"));
        }
        if !i.chars().all(valid_char) {
            return Err(bad("invalid character in the instance"));
        }
    }
    if !prefix.chars().all(valid_char) {
        return Err(bad("invalid character (allowed: A-Z a-z 0-9 : - _ . \\)"));
    }
    Ok(())
}

/// Checks a scope name (`*.scope`).
///
/// # Errors
///
/// [`InputError::InvalidUnitName`] saying which rule the name breaks.
pub fn check_scope_name(name: &str) -> Result<(), InputError> {
    check_unit_name(name, ".scope")
}

/// Checks a slice name: `-.slice` (the root) or dash-separated path components, no empty
/// component (`a--b`, leading or trailing `-`), no `/`.
///
/// # Errors
///
/// [`InputError::InvalidSliceName`] or [`InputError::InvalidUnitName`] saying which rule
/// the name breaks.
pub fn check_slice_name(name: &str) -> Result<(), InputError> {
    let bad = |reason| InputError::InvalidSliceName {
        name: name.to_owned(),
        reason,
    };
    if name == "-.slice" {
        return Ok(());
    }
    if name.contains('/') {
        return Err(bad("contains '/'"));
    }
    if name.contains('@') {
        return Err(bad("slices cannot be instances"));
    }
    check_unit_name(name, ".slice").map_err(|e| match e {
        InputError::InvalidUnitName { reason, .. } => bad(reason),
        other => other,
    })?;
    let stem = &name[..name.len() - ".slice".len()];
    if stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") {
        return Err(bad("empty component between dashes"));
    }
    Ok(())
}

/// The longest `Description=` taken, in bytes: a line a human reads in `systemctl status`,
/// far below systemd's own line limits.
pub const MAX_DESCRIPTION: usize = 1024;

/// A unit `Description=`: no control characters and at most [`MAX_DESCRIPTION`] bytes.
/// systemd writes it into the transient unit file as `Description=%s`, escaping only `%`, so
/// a newline would add lines to the unit file; and it is a world-readable property, so
/// callers must not put secrets (argv) in it.
///
/// # Errors
///
/// [`InputError::InvalidDescription`] for a control character or a description over
/// [`MAX_DESCRIPTION`] bytes.
pub fn check_description(description: &str) -> Result<(), InputError> {
    let bad = |reason| InputError::InvalidDescription {
        description: description.to_owned(),
        reason,
    };
    if description.len() > MAX_DESCRIPTION {
        return Err(bad("longer than 1024 bytes"));
    }
    if description.chars().any(char::is_control) {
        return Err(bad(
            "control characters (a newline would add unit-file lines)",
        ));
    }
    Ok(())
}

/// The parent of a slice: `a-b-c.slice` → `a-b.slice`, `a.slice` → `-.slice`, `-.slice` → None.
pub fn parent_slice(name: &str) -> Option<String> {
    if name == "-.slice" {
        return None;
    }
    let stem = name.strip_suffix(".slice")?;
    Some(match stem.rfind('-') {
        Some(i) => format!("{}.slice", &stem[..i]),
        None => "-.slice".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_refuse_control_characters_and_excess_length() {
        assert_eq!(check_description("runc container 0123abc"), Ok(()));
        assert_eq!(check_description(""), Ok(()));
        assert_eq!(check_description(&"d".repeat(1024)), Ok(()));
        for bad in [
            "a\nExecStart=/bin/sh",
            "a\rb",
            "tab\there",
            "nul\0",
            "esc\u{1b}[2J",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            assert!(
                matches!(
                    check_description(bad),
                    Err(InputError::InvalidDescription { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(check_description(&"d".repeat(1025)).is_err());
    }

    #[test]
    fn scope_names_follow_systemd_rules() {
        assert!(check_scope_name("runc-0123abc.scope").is_ok());
        assert!(check_scope_name("a:b_c.d\\x2d.scope").is_ok());
        assert!(check_scope_name("inst@x.scope").is_ok());
        for bad in [
            "",
            ".scope",
            "x.service",
            "a b.scope",
            "a/b.scope",
            "t@.scope",
            "@x.scope",
        ] {
            assert!(check_scope_name(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}.scope", "a".repeat(250));
        assert!(check_scope_name(&long).is_err());
        let max = format!("{}.scope", "a".repeat(249));
        assert!(check_scope_name(&max).is_ok());
    }

    #[test]
    fn slice_names_reject_empty_dash_components() {
        for ok in ["-.slice", "system.slice", "a-b-c.slice", "user-1000.slice"] {
            assert!(check_slice_name(ok).is_ok(), "{ok:?} rejected");
        }
        for bad in [
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            "a/b.slice",
            "a.scope",
            ".slice",
            "a@b.slice",
        ] {
            assert!(
                matches!(
                    check_slice_name(bad),
                    Err(InputError::InvalidSliceName { .. })
                ),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn parent_slice_drops_the_last_dash_component() {
        assert_eq!(parent_slice("a-b-c.slice").as_deref(), Some("a-b.slice"));
        assert_eq!(parent_slice("a.slice").as_deref(), Some("-.slice"));
        assert_eq!(parent_slice("-.slice"), None);
    }
}
