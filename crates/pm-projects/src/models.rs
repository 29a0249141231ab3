//! Project entities and the value types that validate their fields. Fields of the
//! value types are private: holding one proves the value is valid.

use pm_kernel::validation::text;
use pm_kernel::{Error, ProjectId, Timestamp, WorkspaceId};
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
/// A project: the unit specs and tasks belong to.
pub struct Project {
    /// The id.
    pub id: ProjectId,
    /// The workspace it belongs to.
    pub workspace_id: WorkspaceId,
    /// The globally unique slug.
    pub slug: Slug,
    /// The name.
    pub name: ProjectName,
    /// The description.
    pub description: Description,
    /// The linked GitHub repository.
    pub github_repo: Option<RepoFullName>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// What a caller supplies to create a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    /// The name.
    pub name: ProjectName,
    /// The description.
    pub description: Description,
}

/// A partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectPatch {
    /// A new name.
    pub name: Option<ProjectName>,
    /// A new description.
    pub description: Option<Description>,
}

impl ProjectPatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none()
    }
}

macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    };
}

/// A project's display name: 1 to 200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectName(String);
string_value!(ProjectName);

impl ProjectName {
    /// The most characters allowed.
    pub const MAX_CHARS: usize = 200;

    /// Validates `value` (trimmed where the type says so); fails with a validation error naming the field.
    pub fn new(value: &str) -> Result<Self, Error> {
        text("name", value, 1, Self::MAX_CHARS).map(Self)
    }
}

/// Free-form markdown; may be empty, at most 20,000 characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Description(String);
string_value!(Description);

impl Description {
    /// The most characters allowed.
    pub const MAX_CHARS: usize = 20_000;

    /// Validates `value` (trimmed where the type says so); fails with a validation error naming the field.
    pub fn new(value: &str) -> Result<Self, Error> {
        text("description", value, 0, Self::MAX_CHARS).map(Self)
    }
}

/// The URL-safe, globally unique handle of a project: lowercase ASCII letters,
/// digits and single hyphens, 3 to 100 characters, e.g. `billing-revamp-x7k2q9`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);
string_value!(Slug);

impl Slug {
    /// The longest `owner/name` accepted.
    pub const MAX_LEN: usize = 100;
    /// Characters of the random suffix; 36^6 ≈ 2·10^9 combinations per base.
    pub const SUFFIX_LEN: usize = 6;
    const SUFFIX_ALPHABET: [char; 36] = [
        'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r',
        's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
    ];
    /// Room left for the slugified name once the suffix and its hyphen are added.
    const BASE_MAX: usize = 60;

    /// Parses a slug received from a client (e.g. in a URL path).
    pub fn parse(value: &str) -> Result<Self, Error> {
        let valid = (3..=Self::MAX_LEN).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !value.starts_with('-')
            && !value.ends_with('-')
            && !value.contains("--");
        if valid {
            Ok(Self(value.to_string()))
        } else {
            Err(Error::invalid(
                "slug",
                "must be 3-100 lowercase letters, digits and single hyphens",
            ))
        }
    }

    /// A new slug for `name`: its slugified form plus `-` and a random suffix.
    pub fn generate(name: &ProjectName) -> Self {
        let base = slugify(name.as_str(), Self::BASE_MAX);
        let base = if base.is_empty() {
            "project".to_string()
        } else {
            base
        };
        let suffix = nanoid::nanoid!(Self::SUFFIX_LEN, &Self::SUFFIX_ALPHABET);
        Self(format!("{base}-{suffix}"))
    }
}

/// Lowercases ASCII letters and digits, turns every other run of characters into a
/// single hyphen and trims hyphens from both ends; at most `max` bytes.
pub fn slugify(input: &str, max: usize) -> String {
    let mut out = String::with_capacity(input.len().min(max));
    let mut pending_hyphen = false;
    for c in input.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_hyphen && !out.is_empty() {
                out.push('-');
            }
            pending_hyphen = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_hyphen = true;
        }
        if out.len() >= max {
            break;
        }
    }
    out.truncate(max);
    out.trim_end_matches('-').to_string()
}

/// A GitHub repository's `owner/name`. GitHub owners are 1-39 alphanumerics or
/// hyphens; repository names 1-100 of alphanumerics, `-`, `_` and `.` (not `.`/`..`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoFullName(String);
string_value!(RepoFullName);

impl RepoFullName {
    /// Parses `owner/name` by GitHub's character rules.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let bad = || {
            Error::invalid(
                "full_name",
                "must be `owner/name` with GitHub's allowed characters",
            )
        };
        let (owner, name) = value.split_once('/').ok_or_else(bad)?;
        let owner_ok = (1..=39).contains(&owner.len())
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let name_ok = (1..=100).contains(&name.len())
            && name != "."
            && name != ".."
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if owner_ok && name_ok {
            Ok(Self(value.to_string()))
        } else {
            Err(bad())
        }
    }

    /// The owner (user or organisation).
    pub fn owner(&self) -> &str {
        self.0.split_once('/').map(|(o, _)| o).unwrap_or_default()
    }

    /// The repository's name.
    pub fn name(&self) -> &str {
        self.0.split_once('/').map(|(_, n)| n).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_collapses_and_trims() {
        assert_eq!(
            slugify("  Billing Revamp!! 2026 ", 60),
            "billing-revamp-2026"
        );
        assert_eq!(slugify("Ünïcode & co", 60), "n-code-co");
        assert_eq!(slugify("---", 60), "");
        assert_eq!(slugify(&"a".repeat(100), 60).len(), 60);
    }

    #[test]
    fn generated_slug_parses_and_has_suffix() {
        let name = ProjectName::new("Billing Revamp").unwrap();
        let slug = Slug::generate(&name);
        assert!(slug.as_str().starts_with("billing-revamp-"));
        assert_eq!(
            slug.as_str().len(),
            "billing-revamp-".len() + Slug::SUFFIX_LEN
        );
        assert_eq!(Slug::parse(slug.as_str()).unwrap(), slug);
        let other = Slug::generate(&name);
        assert_ne!(
            slug, other,
            "two projects with one name get different slugs"
        );
    }

    #[test]
    fn slug_of_symbol_only_name_falls_back() {
        let slug = Slug::generate(&ProjectName::new("!!!").unwrap());
        assert!(slug.as_str().starts_with("project-"));
    }

    #[test]
    fn slug_parse_rejects_bad_input() {
        for bad in [
            "",
            "ab",
            "Has-Upper",
            "a--b",
            "-abc",
            "abc-",
            "a b c",
            "ab/c",
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Slug::parse(&"a".repeat(101)).is_err());
    }

    #[test]
    fn repo_full_name_rules() {
        let r = RepoFullName::parse("octo-org/hello_world.rs").unwrap();
        assert_eq!((r.owner(), r.name()), ("octo-org", "hello_world.rs"));
        for bad in ["", "octo", "/x", "x/", "a/b/c", "o o/r", "o/..", "o/r?x"] {
            assert!(
                RepoFullName::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn names_are_bounded() {
        assert!(ProjectName::new("").is_err());
        assert!(ProjectName::new(&"x".repeat(201)).is_err());
        assert_eq!(ProjectName::new(" ok ").unwrap().as_str(), "ok");
        assert!(Description::new("").is_ok());
        assert!(Description::new(&"x".repeat(20_001)).is_err());
    }
}
