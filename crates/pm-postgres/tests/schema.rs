//! `src/schema.rs` is written by hand: this checks it against the migrated
//! database, column by column (name, type, nullability), both ways.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failed unwrap, expect or panic is the failure report we want"
)]

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pm_postgres::testing::TestDb;
use std::collections::BTreeMap;

/// Columns the database has and `schema.rs` leaves out on purpose, each with why.
const NOT_IN_SCHEMA_RS: &[(&str, &str, &str)] = &[
    ("sync_runs", "updated", "past diesel's 16 columns: SQL only"),
    (
        "sync_runs",
        "unchanged",
        "past diesel's 16 columns: SQL only",
    ),
    (
        "sync_runs",
        "conflicts",
        "past diesel's 16 columns: SQL only",
    ),
];

/// `table -> column -> (udt name, nullable)` as `schema.rs` declares them.
fn declared() -> BTreeMap<String, BTreeMap<String, (String, bool)>> {
    let text = include_str!("../src/schema.rs");
    let mut tables = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line
            .strip_suffix('{')
            .and_then(|l| l.trim().split_once(" ("))
            .map(|(name, _)| name.trim().to_string())
            .filter(|_| !line.starts_with("diesel::"))
        {
            current = Some(name.clone());
            tables.insert(name, BTreeMap::new());
            continue;
        }
        if line == "}" {
            current = None;
            continue;
        }
        let (Some(table), Some((column, ty))) = (&current, line.split_once(" -> ")) else {
            continue;
        };
        let ty = ty.trim_end_matches(',');
        let (ty, nullable) = match ty
            .strip_prefix("Nullable<")
            .and_then(|t| t.strip_suffix('>'))
        {
            Some(inner) => (inner, true),
            None => (ty, false),
        };
        let udt = match ty {
            "Uuid" => "uuid",
            "Text" => "text",
            "Int4" | "Integer" => "int4",
            "Int8" | "BigInt" => "int8",
            "Bool" => "bool",
            "Bytea" => "bytea",
            "Jsonb" => "jsonb",
            "Timestamptz" => "timestamptz",
            "Array<Text>" => "_text",
            other => panic!("schema.rs: no mapping for {other}"),
        };
        tables
            .get_mut(table)
            .unwrap()
            .insert(column.trim().to_string(), (udt.to_string(), nullable));
    }
    tables
}

#[derive(diesel::QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    udt_name: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_matches_migrations() {
    let declared = declared();
    assert!(declared.len() >= 10, "parsed the tables of schema.rs");
    assert!(declared["tasks"].contains_key("reopen_status"));
    let db = TestDb::new().await;
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, udt_name::text, is_nullable::text
           FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let mut actual: BTreeMap<String, BTreeMap<String, (String, bool)>> = BTreeMap::new();
    for c in columns {
        actual
            .entry(c.table_name)
            .or_default()
            .insert(c.column_name, (c.udt_name, c.is_nullable == "YES"));
    }
    let mut problems = Vec::new();
    for (table, columns) in &declared {
        let Some(in_db) = actual.get(table) else {
            problems.push(format!("{table}: no such table"));
            continue;
        };
        for (column, declared) in columns {
            match in_db.get(column) {
                None => problems.push(format!("{table}.{column}: no such column")),
                Some(found) if found != declared => {
                    problems.push(format!(
                        "{table}.{column}: schema.rs says {declared:?}, the database {found:?}"
                    ));
                }
                Some(_) => {}
            }
        }
        for column in in_db.keys() {
            let skipped = NOT_IN_SCHEMA_RS
                .iter()
                .any(|(t, c, _)| t == table && c == column);
            if !columns.contains_key(column) && !skipped {
                problems.push(format!("{table}.{column}: missing from schema.rs"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "schema.rs differs:\n{}",
        problems.join("\n")
    );
}
