//! Field-level validation errors, collected so a client learns every problem with
//! its input at once rather than one per request.

use crate::Error;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
/// One field that broke a rule, and how.
pub struct FieldError {
    /// The field, as the API names it.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// An error on `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects the outcome of several validations and fails with all of them.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// A validator with no errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value of a successful validation; records the field errors of a failed one.
    pub fn check<T>(&mut self, result: Result<T, Error>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(Error::Validation(errors)) => {
                self.errors.extend(errors);
                None
            }
            Err(other) => {
                self.errors.push(FieldError::new("", other.to_string()));
                None
            }
        }
    }

    /// Ok when nothing failed, else every recorded field error.
    pub fn finish(self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.errors))
        }
    }
}

/// Trims `value` and checks that it has between `min` and `max` characters.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, Error> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len < min {
        return Err(Error::invalid(
            field,
            if min == 1 {
                "must not be empty".to_string()
            } else {
                format!("must have at least {min} characters")
            },
        ));
    }
    if len > max {
        return Err(Error::invalid(
            field,
            format!("must have at most {max} characters (got {len})"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_trims_and_bounds() {
        assert_eq!(text("title", "  hi  ", 1, 5).unwrap(), "hi");
        assert!(text("title", "   ", 1, 5).is_err());
        assert!(text("title", "toolong", 1, 5).is_err());
        assert!(text("title", "a\u{0}b", 1, 5).is_err());
    }

    #[test]
    fn validator_collects_every_error() {
        let mut v = Validator::new();
        assert!(v.check(text("a", "", 1, 5)).is_none());
        assert_eq!(v.check(text("b", "ok", 1, 5)).as_deref(), Some("ok"));
        assert!(v.check(text("c", "xxxxxx", 1, 5)).is_none());
        match v.finish() {
            Err(Error::Validation(errors)) => {
                let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["a", "c"]);
            }
            other => panic!("expected validation errors, got {other:?}"),
        }
    }
}
