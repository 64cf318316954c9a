//! A YAML document as a tree of nodes that remember where they came from.
//!
//! Rule files are first read into this tree (parse), then checked and compiled
//! from it (validate). Keeping every node's location lets the compiler report
//! every problem in a file, each at its own line and column, instead of stopping
//! at the first one as a derived `Deserialize` would.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node starts in its file: 1-based line and column, and the byte range
/// when it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Byte offset of the node's start, when known.
    pub offset: Option<usize>,
    /// Byte length of the node, when known (0 for collections).
    pub len: usize,
}

impl Pos {
    fn from_location(loc: &serde_saphyr::Location) -> Self {
        let span = loc.span();
        Pos {
            line: loc.line() as u32,
            column: loc.column() as u32,
            offset: span.byte_offset().map(|o| o as usize),
            len: span.byte_len().unwrap_or(0) as usize,
        }
    }
}

/// One YAML node with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What the node holds.
    pub value: NodeValue,
}

/// The content of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    /// `null`, `~` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string scalar.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order; keys are positioned strings.
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// Where the key starts.
    pub pos: Pos,
    /// The key text (non-string keys are written as their YAML text).
    pub name: String,
}

impl NodeValue {
    /// A short name for the kind of value, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::Str(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The node as a JSON value (positions dropped), for literals in rules.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The string, if this node is a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The options every rule file is parsed with.
pub(crate) fn options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    // Only `true`/`false` are booleans: `title: y` or `country: NO` stay text.
    options.strict_booleans = true;
    options
}

/// Parses `text` (one YAML document) into a positioned tree.
///
/// Most files are built straight from the parser's events ([`build_from_events`]);
/// anything that path does not handle itself — a syntax error, anchors and
/// aliases, tags, merge keys, duplicate or non-scalar keys, several documents,
/// an empty stream, a BOM, numbers in unusual spellings as keys, or a document
/// near a budget limit — is parsed again by serde-saphyr's deserializer, so
/// results, limits and error messages are exactly that deserializer's.
pub(crate) fn parse(text: &str) -> Result<Node, serde_saphyr::Error> {
    if let Some(node) = build_from_events(text) {
        return Ok(node);
    }
    serde_saphyr::from_str_with_options(text, options())
}

/// The tree for `text`, built from granit-parser's event stream, or `None`
/// when the document needs serde-saphyr's deserializer (see [`parse`]).
///
/// For the documents it accepts, the result equals what
/// `serde_saphyr::from_str_with_options::<Node>(text, options())` returns:
/// the same parser with the same options, the same positions (the node's
/// event span, as `Spanned` reports it) and the same scalar typing. It gives
/// up (returns `None`) before any of serde-saphyr's budget limits could be
/// reached, so a document that the deserializer would refuse is always left
/// to it.
fn build_from_events(text: &str) -> Option<Node> {
    use serde_saphyr::granit_parser::{Event, Parser, StrInput};

    // serde-saphyr's limits (`Budget::default()`); this path stops short of
    // each of them.
    const MAX_EVENTS: usize = 1_000_000;
    const MAX_NODES: usize = 250_000;
    const MAX_DEPTH: usize = 64;
    const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;

    if text.contains('\u{feff}') {
        return None;
    }
    // Comments are no part of the tree, and asking the parser not to emit
    // them saves it a good share of its work. Without them it still checks
    // their syntax; what it no longer does is refuse a run of more than 32
    // consecutive comments (`max_buffered_comment_events`), count them as
    // events, or count their bytes. So comments stay on when the text might
    // have such a run, and their events and bytes are bounded by the lines
    // with a `#` and the text's length.
    let hash_lines = comment_lines(text);
    let emit_comments = hash_lines.is_none() || text.len() >= MAX_TEXT_BYTES;
    let mut options = parser_options();
    options.emit_comments = emit_comments;
    let mut parser = Parser::with_options(StrInput::new(text), options);
    let mut stack: Vec<Frame> = Vec::new();
    // The children of every open collection, innermost last; a collection
    // takes its own (one allocation of the right size) when it ends.
    let (mut items, mut entries): (Vec<Node>, Vec<(Key, Node)>) = (Vec::new(), Vec::new());
    let mut root: Option<Node> = None;
    let (mut events, mut nodes, mut text_bytes, mut documents) =
        (hash_lines.unwrap_or(0), 0usize, 0usize, 0usize);
    for item in &mut parser {
        let (event, span) = item.ok()?;
        events += 1;
        if events >= MAX_EVENTS {
            return None;
        }
        let node = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => continue,
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return None;
                }
                continue;
            }
            Event::Comment(comment, _) => {
                text_bytes += comment.len();
                if text_bytes >= MAX_TEXT_BYTES {
                    return None;
                }
                continue;
            }
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return None;
                }
                nodes += 1;
                text_bytes += value.len();
                if nodes >= MAX_NODES || text_bytes >= MAX_TEXT_BYTES {
                    return None;
                }
                let pos = pos_of(&span);
                if let Some(Frame::Map { key, .. }) = stack.last_mut()
                    && key.is_none()
                {
                    let name = key_text(value, style)?;
                    if name == "<<" {
                        return None;
                    }
                    *key = Some(Key { pos, name });
                    continue;
                }
                Node {
                    pos,
                    value: scalar_value(value, style)?,
                }
            }
            Event::SequenceStart(_, anchor, ref tag) | Event::MappingStart(_, anchor, ref tag) => {
                if anchor != 0 || tag.is_some() {
                    return None;
                }
                nodes += 1;
                if nodes >= MAX_NODES || stack.len() + 1 >= MAX_DEPTH {
                    return None;
                }
                // A collection as a mapping key.
                if let Some(Frame::Map { key: None, .. }) = stack.last() {
                    return None;
                }
                let pos = pos_of(&span);
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        pos,
                        start: items.len(),
                    }
                } else {
                    Frame::Map {
                        pos,
                        start: entries.len(),
                        key: None,
                    }
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop()? {
                Frame::Seq { pos, start } => Node {
                    pos,
                    value: NodeValue::Seq(items.drain(start..).collect()),
                },
                Frame::Map { .. } => return None,
            },
            Event::MappingEnd => match stack.pop()? {
                Frame::Map {
                    pos,
                    start,
                    key: None,
                } => {
                    if has_duplicate_keys(&entries[start..]) {
                        return None;
                    }
                    Node {
                        pos,
                        value: NodeValue::Map(entries.drain(start..).collect()),
                    }
                }
                Frame::Map { .. } | Frame::Seq { .. } => return None,
            },
            // Aliases, and anything this path does not know.
            _ => return None,
        };
        match stack.last_mut() {
            None if root.is_none() => root = Some(node),
            None => return None,
            Some(Frame::Seq { .. }) => items.push(node),
            Some(Frame::Map { key, .. }) => entries.push((key.take()?, node)),
        }
    }
    if !stack.is_empty() {
        return None;
    }
    root
}

/// The number of lines with a `#` in `text` (an upper bound on its
/// comments), or `None` when it may have a run of 32 or more comments with
/// nothing but blank lines and `...` between them.
///
/// Every comment is on a line with a `#`, one per line; two comments are
/// consecutive tokens only when the lines between them hold no token. So a
/// run is counted from a line with a `#`, carries on through blank lines,
/// lines starting with `#` or `...`, and restarts at any other line (at 1
/// when that line has a `#` too). Text in block scalars and multi-line
/// quoted strings can only make the count larger than the truth.
fn comment_lines(text: &str) -> Option<usize> {
    const MAX_RUN: usize = 31;
    // Lines end at `\n` or `\r`, as for the parser.
    let is_break = |c: &u8| matches!(c, b'\n' | b'\r');
    let lead = |line: &[u8]| -> bool {
        let t = line.trim_ascii_start();
        // A line starting with `#` or `...` (or blank) holds no token before
        // its comment (`...` is at most a document end, which does not break
        // a run of comments).
        t.is_empty() || t.starts_with(b"#") || t.starts_with(b"...")
    };
    let bytes = text.as_bytes();
    let (mut total, mut run, mut prev_end) = (0usize, 0usize, 0usize);
    let mut from = 0;
    // Only lines with a `#` are visited (found with a fast search).
    while let Some(off) = text[from..].find('#') {
        let at = from + off;
        let start = bytes[..at].iter().rposition(is_break).map_or(0, |p| p + 1);
        let end = bytes[at..]
            .iter()
            .position(is_break)
            .map_or(bytes.len(), |p| at + p);
        let quiet_between =
            total > 0 && bytes[prev_end.min(start)..start].split(is_break).all(lead);
        run = if quiet_between && lead(&bytes[start..end]) {
            run + 1
        } else {
            1
        };
        if run >= MAX_RUN {
            return None;
        }
        total += 1;
        prev_end = end;
        from = end;
    }
    Some(total)
}

/// A collection being built by [`build_from_events`].
enum Frame {
    Seq {
        pos: Pos,
        /// Where its items start in the shared item stack.
        start: usize,
    },
    Map {
        pos: Pos,
        /// Where its entries start in the shared entry stack.
        start: usize,
        /// The key whose value comes next.
        key: Option<Key>,
    },
}

/// granit-parser's options as serde-saphyr sets them for [`options`]
/// (`Options::parser_options`: the default budget's limits, comments on).
fn parser_options() -> serde_saphyr::granit_parser::Options {
    let mut o = serde_saphyr::granit_parser::Options::default();
    o.simple_key_max_lookahead = 1024;
    o.flow_nesting_limit = 255;
    o.block_nesting_limit = o.block_nesting_limit.max(MAX_DEPTH_PLUS_ONE);
    o.emit_comments = true;
    o.max_buffered_comment_events = 32;
    o.strict_indentation = false;
    o.bom_inside_document_as_content = false;
    o
}

/// serde-saphyr's default `max_depth` plus one (its block nesting limit).
const MAX_DEPTH_PLUS_ONE: usize = 65;

/// A node's position, as serde-saphyr's `location_from_span` computes it.
fn pos_of(span: &serde_saphyr::granit_parser::Span) -> Pos {
    let (start, end) = (&span.start, &span.end);
    let (offset, len) = match (start.byte_offset(), end.byte_offset()) {
        (Some(s), Some(e))
            if s <= u32::MAX as usize && e.saturating_sub(s) <= u32::MAX as usize =>
        {
            (Some(s), e.saturating_sub(s))
        }
        _ => (None, 0),
    };
    Pos {
        line: start.line() as u32,
        column: (start.col() + 1) as u32,
        offset,
        len,
    }
}

/// serde-saphyr's `yaml_trim`.
fn yaml_trim(s: &str) -> &str {
    let pad = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    // A plain scalar never starts or ends with padding: skip the search.
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(f), Some(l)) if pad(f) || pad(l) => s.trim_matches([' ', '\t', '\r', '\n']),
        _ => s,
    }
}

/// serde-saphyr's `parse_yaml12_bool` (booleans with `strict_booleans`).
fn yaml12_bool(s: &str) -> Option<bool> {
    let t = yaml_trim(s);
    if t.len() != 4 && t.len() != 5 {
        return None;
    }
    match t {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// serde-saphyr's `scalar_is_nullish` for a plain scalar.
fn nullish(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

/// A decimal integer in its plainest spelling (`0`, `42`, `-7`: no sign
/// other than `-`, no leading zero, no `-0`, at most 18 digits), which
/// serde-saphyr reads as that integer whatever its options.
fn plain_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let simple = !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0";
    if simple { s.parse().ok() } else { None }
}

/// Whether serde-saphyr might read a plain scalar as something other than a
/// string, null or boolean: it starts like a number.
fn numeric_looking(s: &str) -> bool {
    matches!(
        yaml_trim(s).as_bytes().first(),
        Some(b'0'..=b'9' | b'+' | b'-' | b'.')
    )
}

/// The value of an untagged, unanchored scalar, typed as serde-saphyr's
/// `deserialize_any` types it with [`options`]; `None` when unsure.
fn scalar_value(
    value: std::borrow::Cow<'_, str>,
    style: serde_saphyr::granit_parser::ScalarStyle,
) -> Option<NodeValue> {
    use serde_saphyr::granit_parser::ScalarStyle;
    if style != ScalarStyle::Plain {
        return Some(NodeValue::Str(value.into_owned()));
    }
    if nullish(&value) {
        return Some(NodeValue::Null);
    }
    if let Some(b) = yaml12_bool(&value) {
        return Some(NodeValue::Bool(b));
    }
    if !numeric_looking(&value) {
        return Some(NodeValue::Str(value.into_owned()));
    }
    if let Some(i) = plain_int(&value) {
        return Some(NodeValue::Int(i));
    }
    numeric_scalar(&value)
}

/// A plain scalar that starts like a number (`1.5`, `1e3`, `0x1F`, `+1`,
/// `2024-01-31`, `.inf`), typed by serde-saphyr itself: the scalar's text is
/// parsed as a document of its own, which gives the same plain scalar as long
/// as the text has none of YAML's indicators in it (otherwise `None`).
fn numeric_scalar(value: &str) -> Option<NodeValue> {
    let safe = value.len() <= 256
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" +-._:/".contains(&b))
        && !value.ends_with(':')
        && !value.contains(": ")
        && !value.starts_with("---")
        && !value.starts_with("...");
    if !safe {
        return None;
    }
    match serde_saphyr::from_str_with_options::<NodeValue>(value, options()) {
        Ok(
            v @ (NodeValue::Null
            | NodeValue::Bool(_)
            | NodeValue::Int(_)
            | NodeValue::Float(_)
            | NodeValue::Str(_)),
        ) => Some(v),
        _ => None,
    }
}

/// A scalar key's text as [`KeyText`] gives it; `None` for keys this path
/// leaves to serde-saphyr (numbers other than [`plain_int`]s).
fn key_text(
    value: std::borrow::Cow<'_, str>,
    style: serde_saphyr::granit_parser::ScalarStyle,
) -> Option<String> {
    use serde_saphyr::granit_parser::ScalarStyle;
    if style != ScalarStyle::Plain {
        return Some(value.into_owned());
    }
    if nullish(&value) {
        return Some("null".to_owned());
    }
    if let Some(b) = yaml12_bool(&value) {
        return Some(b.to_string());
    }
    if !numeric_looking(&value) {
        return Some(value.into_owned());
    }
    plain_int(&value).map(|i| i.to_string())
}

/// Whether two keys of a mapping have the same text (serde-saphyr refuses
/// duplicate keys; which ones count as the same is left to it).
fn has_duplicate_keys(entries: &[(Key, Node)]) -> bool {
    if entries.len() <= 16 {
        entries
            .iter()
            .enumerate()
            .any(|(i, (k, _))| entries[..i].iter().any(|(p, _)| p.name == k.name))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        !entries.iter().all(|(k, _)| seen.insert(k.name.as_str()))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<NodeValue>::deserialize(deserializer)?;
        Ok(Node {
            pos: Pos::from_location(&spanned.referenced),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<KeyText>::deserialize(deserializer)?;
        Ok(Key {
            pos: Pos::from_location(&spanned.referenced),
            name: spanned.value.0,
        })
    }
}

/// A mapping key read as text, whatever its scalar type.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<KeyText, E> {
                Ok(KeyText(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".to_owned()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = NodeValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<NodeValue, E> {
                Ok(NodeValue::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<NodeValue, E> {
                Ok(NodeValue::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
                NodeValue::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<NodeValue, E> {
                Ok(NodeValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeValue, E> {
                Ok(NodeValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeValue, E> {
                Ok(i64::try_from(v)
                    .map(NodeValue::Int)
                    .unwrap_or(NodeValue::Float(v as f64)))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<NodeValue, E> {
                Ok(i64::try_from(v)
                    .map(NodeValue::Int)
                    .unwrap_or(NodeValue::Float(v as f64)))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<NodeValue, E> {
                Ok(i64::try_from(v)
                    .map(NodeValue::Int)
                    .unwrap_or(NodeValue::Float(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NodeValue, E> {
                Ok(NodeValue::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeValue, E> {
                Ok(NodeValue::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<NodeValue, E> {
                Ok(NodeValue::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Node>()? {
                    items.push(item);
                }
                Ok(NodeValue::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Key>()? {
                    let value = map.next_value::<Node>()?;
                    entries.push((key, value));
                }
                Ok(NodeValue::Map(entries))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde-saphyr's deserializer, which [`build_from_events`] must match.
    fn slow(src: &str) -> Result<Node, serde_saphyr::Error> {
        serde_saphyr::from_str_with_options(src, options())
    }

    /// Built from events, and equal (positions included) to the deserializer's tree.
    fn fast(src: &str) -> Node {
        let built = build_from_events(src).unwrap_or_else(|| panic!("not built: {src:?}"));
        let expected = slow(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
        assert_eq!(built, expected, "{src:?}");
        built
    }

    /// Built and equal to the deserializer's tree, or left to it.
    fn same(src: &str) {
        match build_from_events(src) {
            Some(_) => {
                fast(src);
            }
            None => {
                let _ = left(src);
            }
        }
    }

    /// Left to the deserializer; `parse` gives the deserializer's answer.
    fn left(src: &str) -> Result<Node, String> {
        assert_eq!(build_from_events(src), None, "{src:?} was built");
        let got = parse(src).map_err(|e| e.to_string());
        assert_eq!(got, slow(src).map_err(|e| e.to_string()));
        got
    }

    fn map(node: &Node) -> &[(Key, Node)] {
        match &node.value {
            NodeValue::Map(entries) => entries,
            other => panic!("not a mapping: {other:?}"),
        }
    }

    fn at(pos: Pos) -> (u32, u32, Option<usize>, usize) {
        (pos.line, pos.column, pos.offset, pos.len)
    }

    #[test]
    fn block_and_flow_positions_match_the_deserializer() {
        let src = "a: 1\nb:\n  - x\n  - { k: v, 'q': \"w\" }\nc: [1, two, {d: e}]\n";
        let root = fast(src);
        let top = map(&root);
        assert_eq!(at(top[0].0.pos), (1, 1, Some(0), 1));
        assert_eq!(at(top[0].1.pos), (1, 4, Some(3), 1));
        let NodeValue::Seq(items) = &top[1].1.value else {
            panic!()
        };
        let flow = map(&items[1]);
        assert_eq!(flow[1].0.name, "q");
        assert_eq!(at(flow[1].0.pos), (4, 13, Some(26), 3));
        assert_eq!(flow[1].1.as_str(), Some("w"));
        assert_eq!(at(flow[1].1.pos), (4, 18, Some(31), 3));
        // Multi-byte text before a node: columns count characters, offsets bytes.
        let root = fast("é: ünï\nk: [ä, b]\n");
        let top = map(&root);
        assert_eq!(at(top[0].1.pos), (1, 4, Some(4), 5));
        let NodeValue::Seq(items) = &top[1].1.value else {
            panic!()
        };
        assert_eq!(at(items[1].pos), (2, 8, Some(18), 1));
    }

    #[test]
    fn scalars_are_typed_as_the_deserializer_types_them() {
        for src in [
            "v: true",
            "v: false",
            "v: True",
            "v: FALSE",
            "v: y",
            "v: NO",
            "v: on",
            "v: ~",
            "v: null",
            "v: NULL",
            "v:",
            "v: ''",
            "v: \"\"",
            "v: 0",
            "v: 42",
            "v: -7",
            "v: 123456789012345678",
            "v: '12'",
            "v: \"true\"",
            "v: |\n  text\n",
            "v: >-\n  folded\n  text\n",
            "v: plain text with spaces",
            "v: nan",
            "v: inf",
            "v: -0",
            "v: +5",
            "v: 007",
            "v: 1.5",
            "v: 1e3",
            "v: .5",
            "v: 0x1F",
            "v: 0o17",
            "v: 1_000",
            "v: 2024-01-31",
            "v: 10:30",
            "v: -.inf",
            "v: .NaN",
            "v: 12345678901234567890",
            "v: 99999999999999999999999",
            "v: -1.5e-3",
            "v: 1.",
            "v: +.inf",
            "v: 0X1F",
            "v: 3/4",
            "v: -x",
            "v: .hidden",
        ] {
            same(src);
        }
        // The common spellings never need the deserializer.
        for src in [
            "v: true",
            "v: NO",
            "v: ~",
            "v:",
            "v: 42",
            "v: -7",
            "v: 1.5",
            "v: 2024-01-31",
        ] {
            fast(src);
        }
    }

    #[test]
    fn assorted_yaml_is_built_as_the_deserializer_builds_it() {
        for src in [
            "? a\n: b\n",
            "? \n: v\n",
            "- {a: 1}\n- [x, {b: [1, {c: d}]}]\n",
            "a: {}\nb: []\nc: {x: }\nd: {y}\n",
            "a: plain\n  continued\n\n  after a blank\n",
            "a: |2-\n    two extra\n  b\nc: |+\n  kept\n\nd: >\n  folded\n    more\n  back\n",
            "a: \"tab\\t e\\u00e9 nl\\n\"\nb: 'it''s'\n",
            "%YAML 1.2\n---\na: 1\n",
            "a:\tvalue\nb: x\ty\n",
            "a: 1\r\nb:\r\n  - x\r\n  - 'y'\r\n",
            "a b: c\n'd: e': f\n\"g\": h\n",
            "- - a\n  - b\n- - c\n",
            "k: -x\nl: .hidden\nm: +\nn: '-'\n",
            "a: [1, 2,]\n",
            "a: ~\nb: null # c\n",
            "é: ünï\n\u{1F600}: [ä]\n",
        ] {
            fast(src);
        }
    }

    #[test]
    fn trimming_and_booleans_match_serde_saphyr() {
        assert_eq!(yaml_trim(" \ta b\r\n"), "a b");
        assert_eq!(yaml_trim("a b"), "a b");
        assert_eq!(yaml_trim(""), "");
        assert_eq!(yaml12_bool(" True\n"), Some(true));
        assert_eq!(yaml12_bool("FALSE"), Some(false));
        assert_eq!(yaml12_bool("tRue"), None);
        assert_eq!(yaml12_bool("yes"), None);
        for v in ["~", "null", "Null", "NULL", ""] {
            assert!(nullish(v), "{v}");
        }
        assert!(!nullish("nUll") && !nullish(" null"));
    }

    #[test]
    fn keys_read_as_text_like_the_deserializer() {
        let root = fast("true: a\n1: b\n~: c\n'2': d\nNO: e\n");
        let names: Vec<&str> = map(&root).iter().map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(names, ["true", "1", "null", "2", "NO"]);
        // Numbers in other spellings, collections as keys and merge keys
        // are left to the deserializer.
        for src in [
            "1.5: a",
            "0x10: a",
            "[a, b]: c",
            "? {a: b}\n: c",
            "<<: {a: b}\nc: d",
        ] {
            let _ = left(src);
        }
    }

    #[test]
    fn duplicate_keys_are_left_to_the_deserializer() {
        for src in [
            "a: 1\na: 2",
            "'a': 1\na: 2",
            "1: x\n'1': y",
            "~: a\nnull: b",
            "{k: 1, k: 2}",
        ] {
            let _ = left(src);
        }
        let many: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        fast(&many);
        let _ = left(&format!("{many}k7: again\n"));
    }

    #[test]
    fn anchors_aliases_and_tags_are_left_to_the_deserializer() {
        let root = left("a: &x {k: v}\nb: *x\n").expect("loads");
        assert_eq!(map(&root)[1].1.to_json(), serde_json::json!({"k": "v"}));
        let root = left("a: !!str 12\nb: !!int '7'\n").expect("loads");
        assert_eq!(map(&root)[0].1.as_str(), Some("12"));
        assert_eq!(map(&root)[1].1.value, NodeValue::Int(7));
        let _ = left("a: !custom x\n");
        let _ = left("a: &s [1]\n");
    }

    #[test]
    fn budget_limits_are_the_deserializers() {
        with_room(budget_limits);
    }

    /// Runs `f` with a large stack: the deserializer recurses per level of
    /// nesting, which a debug build's test thread does not have room for.
    fn with_room(f: fn()) {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(f)
            .expect("thread")
            .join()
            .expect("no panic");
    }

    fn budget_limits() {
        // Nesting: 63 levels are built here, 64 and more left to the
        // deserializer, which refuses more than 64.
        let nest = |n: usize| format!("{}x{}", "[".repeat(n), "]".repeat(n));
        fast(&nest(62));
        assert!(left(&nest(64)).is_ok());
        let err = left(&nest(65)).expect_err("refused");
        assert!(err.contains("budget breached: Depth"), "{err}");
        // Nodes: at 250,000 the deserializer decides (and refuses more).
        let items = |n: usize| format!("[{}]", vec!["1"; n].join(","));
        fast(&items(1000));
        let err = left(&items(250_000)).expect_err("refused");
        assert!(err.contains("budget breached: Nodes"), "{err}");
        // An alias bomb is never expanded here.
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
        for (p, c) in ["a", "b", "c", "d", "e", "f"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g"])
        {
            bomb.push_str(&format!(
                "{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
            ));
        }
        let err = left(&bomb).expect_err("refused");
        assert!(err.contains("budget breached"), "{err}");
    }

    #[test]
    fn odd_documents_are_left_to_the_deserializer() {
        for src in [
            "",
            "# only a comment\n",
            "a: 1\n---\nb: 2\n",
            "\u{feff}a: 1\n",
            "a: [1, 2\n",
            "a: b: c\n",
            "a:\n\t- x\n",
            "'unterminated\n",
            "- a\nb: c\n",
        ] {
            let _ = left(src);
        }
        same("---\n");
        same("--- # empty\n...\n");
        // Scalars, lists and explicit document markers are fine.
        fast("just text\n");
        fast("- a\n- b\n");
        fast("---\na: 1\n...\n");
        fast("# comment\na: 1 # trailing\n# end\n");
    }

    #[test]
    fn long_runs_of_comments_are_refused_as_the_deserializer_refuses_them() {
        for n in [10, 30, 31, 32, 33, 40] {
            for sep in ["\n", "\r", "\r\n", "\n\n", "\n...\n"] {
                let comments = vec!["# c"; n].join(sep);
                same(&format!("a:\n{comments}\n  - x\n"));
                same(&format!("- a {comments}\n- b\n"));
                same(&format!("a: 1 {comments}\nb: 2\n"));
                same(&format!("{comments}\na: [1,\n{comments}\n 2]\n"));
            }
        }
        assert_eq!(comment_lines("a: 1 # x\n# y\n\n  # z\nb: 2\n"), Some(3));
        assert_eq!(comment_lines(&"#\r".repeat(31)), None);
        assert_eq!(comment_lines(&"# c\nk: v # d\n".repeat(40)), Some(80));
    }

    #[test]
    fn every_rule_file_in_the_repository_is_built_as_the_deserializer_builds_it() {
        with_room(every_rule_file);
    }

    fn every_rule_file() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["rules", "rules/tests", "tests/broken-rules", "benches/data"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("dir") {
                let path = entry.expect("entry").path();
                if path.extension().is_some_and(|e| e == "yaml") {
                    files.push(path);
                }
            }
        }
        assert!(files.len() >= 20, "{files:?}");
        let mut built = 0;
        for path in files {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue; // not UTF-8
            };
            match build_from_events(&text) {
                Some(node) => {
                    assert_eq!(Ok(node), slow(&text).map_err(|e| e.to_string()), "{path:?}");
                    built += 1;
                }
                None => assert!(
                    slow(&text).is_err() || text.contains('&') || text.contains('!'),
                    "{path:?} left"
                ),
            }
        }
        assert!(built >= 15, "{built}");
    }

    #[test]
    fn nodes_keep_lines_and_columns() {
        let src = "rules:\n  - id: a\n    severity: error\n";
        let node: Node = serde_saphyr::from_str(src).unwrap();
        let NodeValue::Map(top) = &node.value else {
            panic!("not a map: {node:?}")
        };
        assert_eq!(top[0].0.name, "rules");
        assert_eq!(top[0].0.pos.line, 1);
        let NodeValue::Seq(rules) = &top[0].1.value else {
            panic!()
        };
        let NodeValue::Map(rule) = &rules[0].value else {
            panic!()
        };
        assert_eq!(rule[1].0.name, "severity");
        assert_eq!((rule[1].0.pos.line, rule[1].0.pos.column), (3, 5));
        assert_eq!((rule[1].1.pos.line, rule[1].1.pos.column), (3, 15));
        assert_eq!(rule[1].1.as_str(), Some("error"));
    }
}
