//! Hand-written SQL that is prepared once per connection. Diesel's `sql_query`
//! is never cached (its text could be anything), so every call parses and plans
//! it again — a cost that dominates a short statement with several CTEs. A
//! [`CachedSql`] is a fixed text with `$N` placeholders and its binds: diesel
//! caches it by its text, like the task list's query.

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use std::marker::PhantomData;

/// One bind of a [`CachedSql`], with its SQL type.
trait Bind: Send + Sync {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

struct Typed<ST, U> {
    value: U,
    // `fn() -> ST`: the SQL type is a marker, never held (keeps the bind Send + Sync).
    sql_type: PhantomData<fn() -> ST>,
}

impl<ST, U> Bind for Typed<ST, U>
where
    Pg: HasSqlType<ST>,
    U: ToSql<ST, Pg> + Send + Sync,
{
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, U>(&self.value)
    }
}

/// A statement whose text is fixed (a `const` or a `LazyLock`), with `$1`, `$2`, …
/// standing for its binds in the order they are added. A placeholder may appear
/// more than once; each occurrence sends the value again under the next number.
/// The text must hold no `$` other than placeholders (no dollar quoting).
pub(crate) struct CachedSql<'a> {
    sql: &'static str,
    binds: Vec<Box<dyn Bind + 'a>>,
}

impl<'a> CachedSql<'a> {
    pub(crate) fn new(sql: &'static str) -> Self {
        Self {
            sql,
            binds: Vec::new(),
        }
    }

    /// Adds the next bind (`$1` first).
    pub(crate) fn bind<ST, U>(mut self, value: U) -> Self
    where
        Pg: HasSqlType<ST>,
        U: ToSql<ST, Pg> + Send + Sync + 'a,
        ST: 'a,
    {
        self.binds.push(Box::new(Typed::<ST, U> {
            value,
            sql_type: PhantomData,
        }));
        self
    }
}

impl QueryFragment<Pg> for CachedSql<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = self.sql;
        while let Some(at) = rest.find('$') {
            let (text, tail) = rest.split_at(at);
            out.push_sql(text);
            let digits = tail
                .get(1..)
                .unwrap_or_default()
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let n: usize = tail
                .get(1..=digits)
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError("a `$` without a number".into())
                })?;
            let bind = n
                .checked_sub(1)
                .and_then(|i| self.binds.get(i))
                .ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(format!("no bind for ${n}").into())
                })?;
            bind.push(&mut out)?;
            rest = tail.get(1 + digits..).unwrap_or_default();
        }
        out.push_sql(rest);
        Ok(())
    }
}

// Cached by its SQL text (no static id), which is fixed.
impl QueryId for CachedSql<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for CachedSql<'_> {
    type SqlType = Untyped;
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sql_types::{BigInt, Text};

    #[test]
    fn placeholders_become_binds_in_the_order_they_appear() {
        let query = CachedSql::new("SELECT $2::text, $1 + 1, $2 = 'x', $10")
            .bind::<BigInt, _>(7_i64)
            .bind::<Text, _>("x")
            .bind::<BigInt, _>(3_i64)
            .bind::<BigInt, _>(4_i64)
            .bind::<BigInt, _>(5_i64)
            .bind::<BigInt, _>(6_i64)
            .bind::<BigInt, _>(8_i64)
            .bind::<BigInt, _>(9_i64)
            .bind::<BigInt, _>(10_i64)
            .bind::<BigInt, _>(11_i64);
        let shown = diesel::debug_query::<Pg, _>(&query).to_string();
        assert!(
            shown.starts_with(
                "SELECT $1::text, $2 + 1, $3 = 'x', $4 -- binds: [\"x\", 7, \"x\", 11]"
            ),
            "{shown}"
        );
        // A placeholder without a bind is an error, not a query.
        let missing = CachedSql::new("SELECT $2").bind::<BigInt, _>(1_i64);
        assert!(
            missing
                .to_sql(&mut diesel::pg::PgQueryBuilder::default(), &Pg)
                .is_err()
        );
    }
}
