//! The vocabulary of the generated request layouts ([`super::schema`]): field kinds, version
//! ranges, and the smallest encoded size of a field or struct at a version.

/// An inclusive range of versions; `V(1, 0)` is empty ("none" in Kafka's schemas).
#[derive(Debug, Clone, Copy)]
pub struct V(pub i16, pub i16);

impl V {
    /// Whether `version` is in the range.
    pub fn has(self, version: i16) -> bool {
        self.0 <= version && version <= self.1
    }
}

/// The wire type of a field.
#[derive(Debug)]
pub enum Kind {
    /// One byte.
    Bool,
    /// One byte.
    Int8,
    /// Two bytes.
    Int16,
    /// Two bytes.
    Uint16,
    /// Four bytes.
    Int32,
    /// Four bytes.
    Uint32,
    /// Eight bytes.
    Int64,
    /// Eight bytes.
    Float64,
    /// Sixteen bytes.
    Uuid,
    /// A string: int16 length, or varint length + 1 in flexible versions.
    Str,
    /// Bytes: int32 length, or varint length + 1 in flexible versions.
    Bytes,
    /// A record set, encoded as bytes (validated later by the produce path).
    Records,
    /// A struct, by index into [`super::schema::STRUCTS`]; a nullable one has an int8 marker.
    Struct(u16),
    /// An array of the element kind: int32 count, or varint count + 1 in flexible versions.
    Array(&'static Kind),
}

/// A tagged field's tag and the versions in which it is tagged.
#[derive(Debug)]
pub struct Tagged {
    /// The tag.
    pub tag: u32,
    /// Versions in which the field is a tagged field.
    pub versions: V,
}

/// One field of a struct.
#[derive(Debug)]
pub struct Field {
    /// Kafka's field name (for messages and reading).
    pub name: &'static str,
    /// The wire type.
    pub kind: Kind,
    /// Versions that have the field.
    pub versions: V,
    /// Versions in which it may be null.
    pub nullable: V,
    /// Set for a tagged field.
    pub tag: Option<Tagged>,
    /// Overrides the message's flexible versions for this field (the header's client id).
    pub flexible: Option<V>,
}

/// A request (or the request header) and its top-level struct.
#[derive(Debug)]
pub struct Message {
    /// Kafka's message name.
    pub name: &'static str,
    /// The API key (-1 for the header).
    pub api_key: i16,
    /// Versions the schema defines.
    pub valid: V,
    /// Flexible versions: compact lengths and tagged fields.
    pub flexible: V,
    /// Index of the top-level struct in [`super::schema::STRUCTS`].
    pub root: u16,
}

impl Field {
    /// Whether the field is in the regular (untagged) part of a struct at `version`.
    pub fn is_regular(&self, version: i16, flexible: bool) -> bool {
        if !self.versions.has(version) {
            return false;
        }
        match &self.tag {
            Some(t) => !(flexible && t.versions.has(version)),
            None => true,
        }
    }

    /// Whether this field uses compact encodings at `version` in a message that is `flexible`.
    pub fn compact(&self, version: i16, flexible: bool) -> bool {
        match self.flexible {
            Some(v) => v.has(version),
            None => flexible,
        }
    }
}

/// The fewest bytes a value of `kind` takes on the wire.
pub fn min_kind_size(
    kind: &Kind,
    version: i16,
    flexible: bool,
    compact: bool,
    nullable: bool,
) -> u64 {
    let len_prefix = |plain: u64| if compact { 1 } else { plain };
    match kind {
        Kind::Bool | Kind::Int8 => 1,
        Kind::Int16 | Kind::Uint16 => 2,
        Kind::Int32 | Kind::Uint32 => 4,
        Kind::Int64 | Kind::Float64 => 8,
        Kind::Uuid => 16,
        Kind::Str => len_prefix(2),
        Kind::Bytes | Kind::Records | Kind::Array(_) => len_prefix(4),
        Kind::Struct(_) if nullable => 1,
        Kind::Struct(s) => min_struct_size(*s, version, flexible),
    }
}

/// The fewest bytes struct `index` takes at `version`: its regular fields, and the tagged-field
/// count in flexible versions.
pub fn min_struct_size(index: u16, version: i16, flexible: bool) -> u64 {
    let mut n = u64::from(flexible);
    for f in super::schema::STRUCTS[index as usize] {
        if f.is_regular(version, flexible) {
            let compact = f.compact(version, flexible);
            n += min_kind_size(&f.kind, version, flexible, compact, f.nullable.has(version));
        }
    }
    n
}
