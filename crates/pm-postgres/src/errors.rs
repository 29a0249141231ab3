//! Translating diesel and pool failures into domain errors, in one place.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use pm_kernel::{ConflictReason, Error};

/// Every diesel result of this crate becomes a domain result through these
/// methods, so the mapping lives here and nowhere else:
///
/// ```ignore
/// query.load(conn).await.or_internal()?;                     // any failure: 503 or 500
/// insert.execute(conn).await.conflict_on(
///     "projects_slug_key", ConflictReason::SlugTaken, "the slug is taken")?;
/// upsert.get_result(conn).await.missing_parent("project")?;  // FK violation: 404
/// ```
pub(crate) trait DbResultExt<T> {
    /// Any failure as [`internal`] decides: [`Error::Unavailable`] for an outage,
    /// [`Error::Internal`] (keeping the diesel error as its cause) otherwise.
    fn or_internal(self) -> Result<T, Error>;

    /// A unique violation of `constraint` (the index or constraint name) as a
    /// conflict for `reason`; any other failure as [`DbResultExt::or_internal`].
    fn conflict_on(
        self,
        constraint: &str,
        reason: ConflictReason,
        message: &str,
    ) -> Result<T, Error>;

    /// A foreign-key violation (the referenced row is gone) as `NotFound(what)`;
    /// any other failure as [`DbResultExt::or_internal`].
    fn missing_parent(self, what: &'static str) -> Result<T, Error>;

    /// Diesel's `NotFound` (a row the statement needed is gone) as
    /// `NotFound(what)`; any other failure as [`DbResultExt::or_internal`].
    fn missing_row(self, what: &'static str) -> Result<T, Error>;
}

impl<T> DbResultExt<T> for Result<T, DieselError> {
    fn or_internal(self) -> Result<T, Error> {
        self.map_err(internal)
    }

    fn conflict_on(
        self,
        constraint: &str,
        reason: ConflictReason,
        message: &str,
    ) -> Result<T, Error> {
        self.map_err(|err| match &err {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
                if info.constraint_name() == Some(constraint) =>
            {
                Error::conflict(reason, message)
            }
            _ => internal(err),
        })
    }

    fn missing_parent(self, what: &'static str) -> Result<T, Error> {
        self.map_err(|err| match err {
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                Error::NotFound(what)
            }
            other => internal(other),
        })
    }

    fn missing_row(self, what: &'static str) -> Result<T, Error> {
        self.map_err(|err| match err {
            DieselError::NotFound => Error::NotFound(what),
            other => internal(other),
        })
    }
}

/// A diesel error as a domain error: the database being unreachable, too slow or
/// going away is [`Error::Unavailable`] (503, worth retrying); anything else is
/// [`Error::Internal`] (a bug, 500), which keeps the diesel error as its cause.
/// Prefer [`DbResultExt::or_internal`] on a result; this is the same mapping
/// for a bare error (and for `.map_err(errors::internal)`, which still works).
pub(crate) fn internal(err: DieselError) -> Error {
    if is_unavailable(&err) {
        Error::Unavailable(format!("database: {err}"))
    } else {
        Error::internal_because("database", err)
    }
}

/// PostgreSQL's (English) messages for the SQLSTATEs that mean "not now":
/// diesel-async hands the message on but not the SQLSTATE itself.
const UNAVAILABLE_MESSAGES: &[&str] = &[
    // 57014 query_canceled: statement_timeout, or a cancel request
    "canceling statement due to statement timeout",
    "canceling statement due to user request",
    // 57P01 admin_shutdown, 57P02 crash_shutdown
    "terminating connection due to administrator command",
    "terminating connection because of crash of another server process",
    // 57P03 cannot_connect_now
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    // 53300 too_many_connections
    "too many clients already",
    "remaining connection slots are reserved",
    // 25P03 idle_in_transaction_session_timeout
    "terminating connection due to idle-in-transaction timeout",
];

fn is_unavailable(err: &DieselError) -> bool {
    match err {
        // tokio-postgres errors without a SQLSTATE: the socket failed or closed.
        DieselError::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
            _,
        ) => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            UNAVAILABLE_MESSAGES.iter().any(|m| message.starts_with(m))
        }
        _ => false,
    }
}

type PoolError = diesel_async::pooled_connection::deadpool::PoolError;

/// A failed checkout: a timeout or a connection that cannot be opened is
/// [`Error::Unavailable`]; a misconfigured pool is [`Error::Internal`].
pub(crate) fn pool(err: PoolError) -> Error {
    use deadpool::managed::PoolError as P;
    use diesel_async::pooled_connection::PoolError as Backend;
    match err {
        P::Timeout(_) | P::Closed => Error::Unavailable(format!("database pool: {err}")),
        P::Backend(Backend::ConnectionError(diesel::ConnectionError::InvalidConnectionUrl(_))) => {
            Error::internal("database pool: invalid connection URL")
        }
        P::Backend(Backend::ConnectionError(e)) => {
            Error::Unavailable(format!("database pool: cannot connect: {e}"))
        }
        P::Backend(Backend::QueryError(e)) => internal(e),
        other => Error::internal_because("database pool", other),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_string()))
    }

    #[test]
    fn outages_are_unavailable_and_bugs_internal() {
        let unavailable = [
            db_error(DatabaseErrorKind::UnableToSendCommand, "connection closed"),
            db_error(DatabaseErrorKind::ClosedConnection, "closed"),
            db_error(
                DatabaseErrorKind::Unknown,
                "canceling statement due to statement timeout",
            ),
            db_error(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            db_error(
                DatabaseErrorKind::Unknown,
                "the database system is shutting down",
            ),
        ];
        for err in unavailable {
            let text = err.to_string();
            assert!(
                matches!(internal(err), Error::Unavailable(_)),
                "{text} should be unavailable"
            );
        }
        let bugs = [
            db_error(
                DatabaseErrorKind::Unknown,
                "syntax error at or near \"SELEC\"",
            ),
            db_error(
                DatabaseErrorKind::CheckViolation,
                "violates check constraint",
            ),
            DieselError::NotFound,
        ];
        for err in bugs {
            let text = err.to_string();
            assert!(
                matches!(internal(err), Error::Internal(_)),
                "{text} should be internal"
            );
        }
    }
}
