//! Translating diesel and pool failures into domain errors, in one place.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use pm_kernel::Error;

/// Unique violations become `Conflict` with `what` as the message; everything else
/// is `Internal` (the cause is logged by the API layer, never sent to clients).
pub(crate) fn conflict_or_internal(what: &str) -> impl FnOnce(DieselError) -> Error + '_ {
    move |err| match err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            Error::Conflict(what.to_string())
        }
        other => internal(other),
    }
}

pub(crate) fn internal(err: DieselError) -> Error {
    Error::internal(format!("database: {err}"))
}

pub(crate) fn pool(err: impl std::fmt::Display) -> Error {
    Error::internal(format!("database pool: {err}"))
}

/// Parses a value stored in a CHECK-constrained text column.
pub(crate) fn stored<T: std::str::FromStr>(column: &str, value: &str) -> Result<T, Error> {
    value
        .parse()
        .map_err(|_| Error::internal(format!("unexpected value {value:?} in column {column}")))
}

/// Values read back from the database were validated when written; if a rule
/// tightened since, that is a server-side data problem (500), not the caller's
/// input (422).
pub(crate) fn from_stored<T>(result: Result<T, Error>) -> Result<T, Error> {
    result.map_err(|e| match e {
        Error::Validation(fields) => Error::internal(format!(
            "stored data no longer passes validation: {}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        )),
        other => other,
    })
}
