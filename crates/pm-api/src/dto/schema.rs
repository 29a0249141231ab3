//! What the domain's constructors enforce, stated in the OpenAPI document: the text
//! rules of `pm_kernel::validation::text` as a pattern and lengths, the slug, the
//! repository name, the cursors. A request the document calls valid is one the code
//! accepts, and the other way round (`make fuzz` checks both).
//!
//! Functions named in `#[schema(schema_with = …)]`; patterns are ECMA-262 (and Python)
//! regular expressions.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};

/// Rust's `char::is_whitespace` (Unicode White_Space): what `str::trim` removes.
const WHITESPACE: &str =
    r"\t\n\u000B\u000C\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Neither whitespace nor a control character: what a trimmed text starts and ends with.
const VISIBLE: &str =
    r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";
/// Any character but a control character other than tab, line feed and carriage return.
const ALLOWED: &str = r"[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]";

/// The pattern of `text(field, value, min, max)` for `min` 0 or 1: surrounding whitespace
/// of any kind (it is trimmed), then nothing (when `min` is 0) or (up to `max`) characters
/// with visible ones at both ends and no control character but tab, line feed and
/// carriage return in between. The bound is on the trimmed text, as `text()` counts, so
/// it is in the pattern rather than in `maxLength` (which would count the whitespace).
pub(crate) fn text_pattern(may_be_blank: bool, max: Option<usize>) -> String {
    let inner = match max {
        Some(max) => format!("{{0,{}}}", max.saturating_sub(2)),
        None => "*".to_string(),
    };
    let core = format!("{VISIBLE}(?:{ALLOWED}{inner}{VISIBLE})?");
    let core = if may_be_blank {
        format!("(?:{core})?")
    } else {
        core
    };
    format!("^[{WHITESPACE}]*{core}[{WHITESPACE}]*$")
}

fn text(min: usize, max: usize, nullable: bool, description: &str) -> ObjectBuilder {
    let ty = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    // Generators give up on repetition counts far above this; past it the bound goes into
    // `maxLength`, which counts surrounding whitespace too (slightly stricter than `text()`).
    let in_pattern = max <= PATTERN_BOUND_MAX;
    ObjectBuilder::new()
        .schema_type(ty)
        .min_length((min > 0).then_some(min))
        .max_length((!in_pattern).then_some(max))
        .pattern(Some(text_pattern(min == 0, in_pattern.then_some(max))))
        .description(Some(description))
}

/// The largest bound written into a text pattern (schemathesis drops patterns with
/// repetition counts around 200,000).
const PATTERN_BOUND_MAX: usize = 65_536;

fn done(object: ObjectBuilder) -> RefOr<Schema> {
    RefOr::T(Schema::Object(object.build()))
}

pub(crate) fn project_name() -> RefOr<Schema> {
    done(text(
        1,
        200,
        false,
        "1-200 characters once surrounding whitespace is trimmed.",
    ))
}
pub(crate) fn project_name_patch() -> RefOr<Schema> {
    project_name()
}
pub(crate) fn project_description() -> RefOr<Schema> {
    done(text(0, 20_000, true, "Markdown, up to 20,000 characters."))
}
pub(crate) fn project_description_patch() -> RefOr<Schema> {
    done(text(0, 20_000, false, "Markdown, up to 20,000 characters."))
}
pub(crate) fn task_title() -> RefOr<Schema> {
    done(text(
        1,
        500,
        false,
        "1-500 characters once surrounding whitespace is trimmed.",
    ))
}
pub(crate) fn task_description() -> RefOr<Schema> {
    done(text(0, 65_536, true, "Markdown, up to 65,536 characters."))
}
pub(crate) fn task_description_patch() -> RefOr<Schema> {
    done(text(0, 65_536, false, "Markdown, up to 65,536 characters."))
}
fn labels_builder(nullable: bool) -> ArrayBuilder {
    let ty = if nullable {
        SchemaType::from_iter([Type::Array, Type::Null])
    } else {
        SchemaType::new(Type::Array)
    };
    ArrayBuilder::new()
        .schema_type(ty)
        .items(done(text(1, 100, false, "A label, 1-100 characters.")))
        .max_items(Some(50))
        .description(Some(
            "Up to 50 labels of 1-100 characters; repeated labels are kept once.",
        ))
}
pub(crate) fn labels() -> RefOr<Schema> {
    RefOr::T(Schema::Array(labels_builder(true).build()))
}
pub(crate) fn labels_patch() -> RefOr<Schema> {
    RefOr::T(Schema::Array(labels_builder(false).build()))
}
pub(crate) fn spec_content() -> RefOr<Schema> {
    done(text(
        0,
        200_000,
        false,
        "Markdown, up to 200,000 characters.",
    ))
}
pub(crate) fn token_name() -> RefOr<Schema> {
    done(text(1, 100, true, "A label, 1-100 characters (e.g. `CI`)."))
}

/// `owner/name` as `pm_projects::RepoFullName::parse` accepts it.
pub const REPO_FULL_NAME: &str = r"^[A-Za-z0-9-]{1,39}/(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$";
/// `pm_projects::Slug::parse`: lowercase letters and digits, single inner hyphens, 3-100.
pub const SLUG: &str = r"^[a-z0-9]+(?:-[a-z0-9]+)*$";
/// A cursor over a list sorted by id.
pub const UUID_CURSOR: &str = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
/// A cursor over tasks, sorted by number.
pub const NUMBER_CURSOR: &str = r"^[1-9][0-9]{0,17}$";

pub(crate) fn repo_full_name(nullable: bool) -> ObjectBuilder {
    let ty = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(ty)
        .pattern(Some(REPO_FULL_NAME))
        .max_length(Some(140))
}
pub(crate) fn repo() -> RefOr<Schema> {
    done(repo_full_name(false).description(Some("`owner/name`.")))
}
pub(crate) fn sync_repo() -> RefOr<Schema> {
    done(repo_full_name(true).description(Some(
        "`owner/name`; defaults to the project's `github_repo`.",
    )))
}
/// GitHub tokens: 1-1024 printable ASCII characters.
pub(crate) fn github_token() -> RefOr<Schema> {
    done(
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .min_length(Some(1))
            .max_length(Some(1024))
            // Printable ASCII, as GitHub's tokens are; the code takes any character but
            // whitespace and controls and lets GitHub refuse the rest (422 either way).
            .pattern(Some("^[!-~]+$"))
            .description(Some(
                "A GitHub personal access token. Verified with `GET /user`, stored \
                 encrypted, never returned.",
            )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema's pattern and `text()` agree, character class by character class.
    #[test]
    fn the_text_pattern_accepts_exactly_what_text_accepts() {
        let nonblank = regex::Regex::new(&text_pattern(false, Some(5))).unwrap();
        let maybe_blank = regex::Regex::new(&text_pattern(true, Some(5))).unwrap();
        let mut samples: Vec<String> = ["", "x", " x ", "a b", "\u{3000}x\u{b}", "\u{feff}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for c in (0u32..0x3100).filter_map(char::from_u32) {
            samples.extend([
                c.to_string(),
                format!("a{c}b"),
                format!("{c}a"),
                format!("a{c}"),
                format!("{c}{c}"),
            ]);
        }
        // The bound counts the trimmed text only.
        samples.extend(
            [
                "abcde",
                "abcdef",
                "  abcde  ",
                " abcdef",
                "a b c",
                "\tabcd\n",
            ]
            .map(String::from),
        );
        for sample in samples {
            for (re, min) in [(&nonblank, 1), (&maybe_blank, 0)] {
                assert_eq!(
                    re.is_match(&sample),
                    pm_kernel::validation::text("f", &sample, min, 5).is_ok(),
                    "{sample:?} (min {min})"
                );
            }
        }
    }
}
