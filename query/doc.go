// Package query implements the clawtrail query language (SPEC §3): a parser,
// an in-memory matcher (live tail, alerts, forwarders) and a compiler to SQL
// over the SQLite search index. The matcher and the compiler share one
// definition of every field, path, token and index value, and a
// differential test holds them to selecting exactly the same events.
//
// # Grammar
//
//	query    = [ or ] .
//	or       = and { "OR" and } .
//	and      = unary { [ "AND" ] unary } .               (AND binds tighter than OR)
//	unary    = ( "NOT" | "-" ) unary | primary .         (NOT and - bind tightest)
//	primary  = "(" or ")" | term .
//	term     = field ":" value | field ":(" vor ")" | text .
//	vor      = vand { "OR" vand } .                      (a group: values of one field)
//	vand     = vunary { [ "AND" ] vunary } .
//	vunary   = ( "NOT" | "-" ) vunary | "(" vor ")" | value .
//	value    = [ ">" | ">=" | "<" | "<=" ] chars | chars "*" | "*" .
//	text     = chars [ "*" ] .
//	field    = name { "." key } .
//
// Words are separated by white space and parentheses. AND, OR and NOT are
// keywords only in upper case and unescaped; "and" is a plain word. A "-"
// starting a word negates it. In a word, "\" makes the next character
// literal and "..." makes its contents literal, so quoted or escaped ":",
// "*", "(", white space, ">" and "<" are plain characters; a quoted "*" is
// never a wildcard. The first unescaped ":" of a word separates the field
// from the value; later colons belong to the value
// (timestamp:>2026-01-31T14:22:33Z). An unescaped "*" may only end a value.
// Query text is at most MaxQueryLen bytes of UTF-8 and nests at most
// MaxDepth deep. The empty query matches every event.
//
// # Fields
//
// Every field of SPEC §1 may be named; session, user, agent and tenant are
// aliases of the _id fields. Under arguments., result., usage. and
// attributes. any dotted path names the leaves whose keys, joined by ".",
// are that path: attributes.http.route finds {"http":{"route":…}} and
// {"http.route":…} alike. Arrays are transparent: arguments.to finds each
// element of an array "to", and arguments.items.name each name in an array
// of objects. Bare result names a scalar result (or the scalar elements of
// an array result); bare arguments, usage and attributes are errors.
//
// # Semantics
//
// A field term on an absent field (an empty string, a nil pointer, no leaf
// at the path, or only null leaves) is false, so -status:success matches an
// event without a status.
//
//   - field:value is exact, case-sensitive equality; field:value* is a
//     prefix match; field:* is
//     true when the field is present.
//   - seq, duration_ms, tokens_used, status_code and bytes hold numbers:
//     equality and >, >=, <, <= compare as float64; wildcards are errors.
//   - timestamp and received_at take an RFC 3339 time or a date (its UTC
//     midnight) and compare at ns precision; wildcards are errors.
//   - Other top-level fields are strings; comparisons on them are errors.
//   - A nested leaf equals a value when its text (a string, a number's
//     literal text, "true" or "false") is the value, or when it is a number
//     and the value parses as the same float64. A comparison on a nested
//     field is numeric and only number leaves can match it.
//   - A bare word or "quoted phrase" is full text. It is split into tokens
//     by Tokenize and matches when the token sequence of FTSText (content,
//     arguments, result and error) holds them consecutively; word* makes the
//     last token a prefix. Matching is therefore case-insensitive, and
//     send_email is the phrase "send email". A word without letters or
//     digits is an error.
//
// Unless a query names type (NamesType), callers leave the server's own
// record types out of results; Match and SQLite do not.
package query
