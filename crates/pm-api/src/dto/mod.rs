//! The JSON shapes of the API, one module per area. Requests reject unknown fields;
//! enums are snake_case strings. Each request body has one `into_domain()` that turns
//! it into the domain's input, validating every field with the domain's constructors,
//! so handlers stay a few lines long.

use pm_kernel::Error;
use serde::Deserialize;

/// Declares an API enum mirroring a domain enum, with conversions both ways.
macro_rules! api_enum {
    ($api:ident <=> $domain:ident { $($variant:ident),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $api { $($variant),+ }

        impl From<$api> for $domain {
            fn from(v: $api) -> Self {
                match v { $($api::$variant => $domain::$variant),+ }
            }
        }

        impl From<$domain> for $api {
            fn from(v: $domain) -> Self {
                match v { $($domain::$variant => $api::$variant),+ }
            }
        }
    };
}

/// Declares a concrete list envelope `{items, next_cursor}` for the OpenAPI document.
macro_rules! list_type {
    ($name:ident, $item:ty) => {
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; null on the last page.
            pub next_cursor: Option<String>,
        }

        impl<T: Into<$item>> From<pm_kernel::Page<T>> for $name {
            fn from(page: pm_kernel::Page<T>) -> Self {
                Self {
                    items: page.items.into_iter().map(Into::into).collect(),
                    next_cursor: page.next_cursor,
                }
            }
        }
    };
}

mod accounts;
mod github;
mod projects;
pub mod schema;
mod specs;
mod sync;
mod tasks;

pub use accounts::*;
pub use github::*;
pub use projects::*;
pub use specs::*;
pub use sync::*;
pub use tasks::*;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub cursor: Option<String>,
}

/// `deserialize_with` for the fields of a PATCH body: a field that is there must hold a
/// value (`null` is refused, as the schema says); one left out is `None` (with
/// `#[serde(default)]`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// `deserialize_with` for an optional integer field: JSON Schema counts `30.0` as the
/// integer 30, so a number with no fractional part is one (serde alone wants `30`).
fn integer<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    match Option::<serde_json::Number>::deserialize(deserializer)? {
        None => Ok(None),
        Some(n) => n
            .as_i64()
            .or_else(|| {
                #[allow(
                    clippy::cast_possible_truncation,
                    reason = "a whole number below 9e15 in magnitude is exact in i64"
                )]
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected an integer, got {n}"))),
    }
}

/// The path of an operation on a project.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // only describes the path in the OpenAPI document
pub struct SlugPath {
    /// The project's slug.
    #[param(
        pattern = r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
        min_length = 3,
        max_length = 100
    )]
    slug: String,
}

/// After `Validator::finish` succeeded every checked value is present; the type
/// system still needs an answer for the impossible case.
fn validated_value_missing() -> Error {
    Error::internal("a value that passed validation is missing")
}
