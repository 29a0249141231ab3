//! Closed sets of values that travel as text: in the database, in JSON and in
//! query strings. [`string_enum!`](crate::string_enum) spells each value once.

/// Declares an enum whose variants each have one snake_case text form, written
/// once in the declaration, with:
///
/// - `as_str()`, a `const fn` giving the text form;
/// - [`Display`](std::fmt::Display), writing the same text;
/// - [`FromStr`](std::str::FromStr), accepting exactly those texts and failing
///   otherwise with [`Error::Validation`](crate::Error::Validation) on the given
///   field (`must be one of: …`).
///
/// The enum derives `Debug`, `Clone`, `Copy`, `PartialEq`, `Eq` and `Hash`, and
/// nothing else: a crate that wants serde on it adds the derive itself (the
/// generated `as_str`/`FromStr` are what adapters use).
///
/// ```
/// pm_kernel::string_enum!(
///     /// How urgent something is.
///     Urgency, "urgency", {
///         /// Whenever.
///         Low => "low",
///         /// Now.
///         High => "high",
///     }
/// );
///
/// assert_eq!(Urgency::High.as_str(), "high");
/// assert_eq!("low".parse::<Urgency>().unwrap(), Urgency::Low);
/// assert_eq!(Urgency::Low.to_string(), "low");
/// let err = "soon".parse::<Urgency>().unwrap_err();
/// assert_eq!(err.to_string(), "validation failed: urgency: must be one of: low, high");
/// ```
#[macro_export]
macro_rules! string_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $field:literal, {
            $( $(#[$vdoc:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vdoc])* $variant ),+
        }

        impl $name {
            /// The value's text form, as stored and sent.
            pub const fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text ),+ }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> ::core::result::Result<Self, $crate::Error> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err($crate::Error::invalid(
                        $field,
                        concat!("must be one of: ", $crate::__join!($($text),+)),
                    )),
                }
            }
        }
    };
}

/// Joins string literals with `", "` at compile time (a detail of
/// [`string_enum!`](crate::string_enum)).
#[doc(hidden)]
#[macro_export]
macro_rules! __join {
    ($first:literal $(, $rest:literal)*) => {
        concat!($first $(, ", ", $rest)*)
    };
}
