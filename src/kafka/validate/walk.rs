//! The walk: reads a request body as its layout says and checks every length, count and tagged
//! field against the bytes that remain, without allocating.
//!
//! It reads exactly as kafka-protocol does (the same varint rules, null markers and tagged-field
//! handling, strings must be UTF-8), and is stricter where the two could disagree: a known
//! tagged field must fill its declared size exactly, so both readers stay at the same position.
//! The stable fuzzing harness (tests/request_fuzz.rs) checks that the decoder accepts every
//! frame the walk accepts.

use super::schema::STRUCTS;
use super::spec::{min_kind_size, Field, Kind};
use super::Invalid;

/// A cursor over the bytes of one request.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Bytes read so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn short(&self, what: &'static str) -> Invalid {
        Invalid::new(what, self.pos)
    }

    fn skip(&mut self, n: u64, what: &'static str) -> Result<(), Invalid> {
        if n > self.remaining() as u64 {
            return Err(self.short(what));
        }
        self.pos += n as usize;
        Ok(())
    }

    fn take<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Invalid> {
        let end = self.pos + N;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.short(what))?;
        self.pos = end;
        Ok(bytes.try_into().expect("slice of N bytes"))
    }

    fn i8(&mut self) -> Result<i8, Invalid> {
        Ok(i8::from_be_bytes(self.take::<1>("truncated int8")?))
    }

    fn i16(&mut self) -> Result<i16, Invalid> {
        Ok(i16::from_be_bytes(self.take::<2>("truncated length")?))
    }

    fn i32(&mut self) -> Result<i32, Invalid> {
        Ok(i32::from_be_bytes(self.take::<4>("truncated length")?))
    }

    /// An unsigned varint of at most five bytes; a fifth byte with its high bit set is refused.
    pub fn uvarint(&mut self) -> Result<u32, Invalid> {
        let mut value = 0u32;
        for i in 0..5 {
            let [b] = self.take::<1>("truncated varint")?;
            value |= u32::from(b & 0x7f) << (i * 7);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(Invalid::new("varint longer than five bytes", self.pos))
    }
}

/// Walks a struct at `version`; `flexible` says whether the message is flexible there.
pub fn walk_struct(
    r: &mut Reader,
    index: u16,
    version: i16,
    flexible: bool,
) -> Result<(), Invalid> {
    let fields = STRUCTS[index as usize];
    for f in fields {
        if f.is_regular(version, flexible) {
            walk_field(r, f, version, flexible)?;
        }
    }
    if flexible {
        walk_tagged(r, fields, version)?;
    }
    Ok(())
}

fn walk_tagged(r: &mut Reader, fields: &[Field], version: i16) -> Result<(), Invalid> {
    let count = r.uvarint()?;
    // Each tagged field takes at least two bytes (tag and size).
    if u64::from(count) * 2 > r.remaining() as u64 {
        return Err(r.short("tagged-field count exceeds the request"));
    }
    for _ in 0..count {
        let tag = r.uvarint()?;
        let size = u64::from(r.uvarint()?);
        if size > r.remaining() as u64 {
            return Err(r.short("tagged-field size exceeds the request"));
        }
        let known = fields.iter().find(|f| {
            f.versions.has(version)
                && f.tag
                    .as_ref()
                    .is_some_and(|t| t.tag == tag && t.versions.has(version))
        });
        match known {
            Some(f) => {
                // The decoder reads a known field from the stream itself: it must fill `size`.
                let end = r.pos + size as usize;
                let mut sub = Reader {
                    buf: &r.buf[..end],
                    pos: r.pos,
                };
                walk_field(&mut sub, f, version, true)?;
                if sub.pos != end {
                    return Err(Invalid::new("tagged field does not fill its size", sub.pos));
                }
                r.pos = end;
            }
            // kafka-protocol refuses a tag the message defines only for other versions (Fetch's
            // tag 1, HighWatermark, in a v17 partition): refuse it too, so the two agree.
            None if fields
                .iter()
                .any(|f| f.tag.as_ref().is_some_and(|t| t.tag == tag)) =>
            {
                return Err(Invalid::new(
                    "tagged field not defined for this version",
                    r.pos,
                ));
            }
            None => r.skip(size, "tagged field")?,
        }
    }
    Ok(())
}

fn walk_field(r: &mut Reader, f: &Field, version: i16, flexible: bool) -> Result<(), Invalid> {
    let compact = f.compact(version, flexible);
    let nullable = f.nullable.has(version);
    walk_kind(r, &f.kind, version, flexible, compact, nullable)
}

/// Reads a length prefix: `None` for null, refused where null is not allowed.
fn length(
    r: &mut Reader,
    compact: bool,
    wide: bool,
    nullable: bool,
) -> Result<Option<u64>, Invalid> {
    let n: i64 = if compact {
        i64::from(r.uvarint()?) - 1
    } else if wide {
        i64::from(r.i32()?)
    } else {
        i64::from(r.i16()?)
    };
    match n {
        -1 if nullable => Ok(None),
        -1 => Err(r.short("null in a field that is not nullable")),
        n if n < -1 => Err(r.short("negative length")),
        n => Ok(Some(n as u64)),
    }
}

fn walk_kind(
    r: &mut Reader,
    kind: &Kind,
    version: i16,
    flexible: bool,
    compact: bool,
    nullable: bool,
) -> Result<(), Invalid> {
    match kind {
        Kind::Bool | Kind::Int8 => r.skip(1, "truncated field"),
        Kind::Int16 | Kind::Uint16 => r.skip(2, "truncated field"),
        Kind::Int32 | Kind::Uint32 => r.skip(4, "truncated field"),
        Kind::Int64 | Kind::Float64 => r.skip(8, "truncated field"),
        Kind::Uuid => r.skip(16, "truncated field"),
        Kind::Str => match length(r, compact, false, nullable)? {
            Some(n) => {
                let start = r.pos;
                r.skip(n, "string length exceeds the request")?;
                // The decoder refuses these too; checking here keeps the two in agreement.
                match std::str::from_utf8(&r.buf[start..r.pos]) {
                    Ok(_) => Ok(()),
                    Err(_) => Err(Invalid::new("string is not UTF-8", start)),
                }
            }
            None => Ok(()),
        },
        Kind::Bytes | Kind::Records => match length(r, compact, true, nullable)? {
            Some(n) => r.skip(n, "bytes length exceeds the request"),
            None => Ok(()),
        },
        Kind::Struct(s) => {
            // A nullable struct has a marker byte; the decoder reads the struct only after 1.
            if nullable && r.i8()? != 1 {
                return Ok(());
            }
            walk_struct(r, *s, version, flexible)
        }
        Kind::Array(elem) => {
            let Some(count) = length(r, compact, true, nullable)? else {
                return Ok(());
            };
            let min = min_kind_size(elem, version, flexible, compact, false).max(1);
            if count.saturating_mul(min) > r.remaining() as u64 {
                return Err(r.short("array count exceeds the request"));
            }
            for _ in 0..count {
                walk_kind(r, elem, version, flexible, compact, false)?;
            }
            Ok(())
        }
    }
}
