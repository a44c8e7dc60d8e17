//! How `runnel consume` prints a record: a template with `%` placeholders (`%v\n` by default),
//! or `json`, one JSON object per line.

use std::io::Write;

use super::common::{CliError, CliResult};

/// The default template: the value, one per line.
pub const DEFAULT_FORMAT: &str = "%v\\n";

/// The parts of a record that can be printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    Timestamp,
    Headers,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    Field(Field),
}

/// A parsed output format: a template of text and fields, or JSON lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format(Kind);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Template(Vec<Piece>),
    Json,
}

/// What a record looks like to the formatter.
pub struct Record<'a> {
    /// Topic name.
    pub topic: &'a str,
    /// Partition id.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key, if any.
    pub key: Option<&'a [u8]>,
    /// Value, if any.
    pub value: Option<&'a [u8]>,
    /// Timestamp in milliseconds, if any.
    pub timestamp: Option<i64>,
    /// Headers in order.
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

impl Format {
    /// Parses `json` or a template: `%t` topic, `%p` partition, `%o` offset, `%k` key, `%v`
    /// value, `%T` timestamp (ms), `%h` headers (`k=v,k=v`), `%%` a percent sign; `\n`, `\t`
    /// and `\\` are escapes.
    pub fn parse(s: &str) -> CliResult<Format> {
        if s == "json" {
            return Ok(Format(Kind::Json));
        }
        let mut pieces = Vec::new();
        let mut text = Vec::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let field = match chars.next() {
                        Some('t') => Field::Topic,
                        Some('p') => Field::Partition,
                        Some('o') => Field::Offset,
                        Some('k') => Field::Key,
                        Some('v') => Field::Value,
                        Some('T') => Field::Timestamp,
                        Some('h') => Field::Headers,
                        Some('%') => {
                            text.push(b'%');
                            continue;
                        }
                        other => {
                            let got =
                                other.map_or("end of format".to_string(), |c| format!("%{c}"));
                            return Err(CliError::usage(format!(
                                "unknown placeholder {got} in --format (use %t %p %o %k %v %T %h %%)"
                            )));
                        }
                    };
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Field(field));
                }
                '\\' => match chars.next() {
                    Some('n') => text.push(b'\n'),
                    Some('t') => text.push(b'\t'),
                    Some('\\') => text.push(b'\\'),
                    Some(o) => {
                        text.push(b'\\');
                        text.extend_from_slice(o.to_string().as_bytes());
                    }
                    None => text.push(b'\\'),
                },
                c => text.extend_from_slice(c.to_string().as_bytes()),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Format(Kind::Template(pieces)))
    }

    /// Writes one record.
    pub fn write(&self, out: &mut impl Write, r: &Record<'_>) -> std::io::Result<()> {
        match &self.0 {
            Kind::Json => {
                let headers: serde_json::Map<String, serde_json::Value> = r
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.map(lossy).into()))
                    .collect();
                let obj = serde_json::json!({
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "timestamp": r.timestamp,
                    "key": r.key.map(lossy),
                    "value": r.value.map(lossy),
                    "headers": headers,
                });
                writeln!(out, "{obj}")
            }
            Kind::Template(pieces) => {
                for p in pieces {
                    match p {
                        Piece::Text(t) => out.write_all(t)?,
                        Piece::Field(f) => write_field(out, *f, r)?,
                    }
                }
                Ok(())
            }
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write_field(out: &mut impl Write, f: Field, r: &Record<'_>) -> std::io::Result<()> {
    match f {
        Field::Topic => out.write_all(r.topic.as_bytes()),
        Field::Partition => write!(out, "{}", r.partition),
        Field::Offset => write!(out, "{}", r.offset),
        Field::Key => out.write_all(r.key.unwrap_or_default()),
        Field::Value => out.write_all(r.value.unwrap_or_default()),
        Field::Timestamp => match r.timestamp {
            Some(t) => write!(out, "{t}"),
            None => out.write_all(b"-"),
        },
        Field::Headers => {
            for (i, (k, v)) in r.headers.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write!(out, "{k}=")?;
                out.write_all(v.unwrap_or_default())?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(fmt: &str) -> String {
        let r = Record {
            topic: "t",
            partition: 2,
            offset: 7,
            key: Some(b"k"),
            value: Some(b"v"),
            timestamp: Some(5),
            headers: vec![("h", Some(b"x")), ("n", None)],
        };
        let mut out = Vec::new();
        Format::parse(fmt).unwrap().write(&mut out, &r).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn templates_fill_placeholders_and_escapes() {
        assert_eq!(render(DEFAULT_FORMAT), "v\n");
        assert_eq!(
            render("%t/%p@%o %k=%v %T [%h] 100%%\\t."),
            "t/2@7 k=v 5 [h=x,n=] 100%\t."
        );
    }

    #[test]
    fn json_has_every_field() {
        let v: serde_json::Value = serde_json::from_str(&render("json")).unwrap();
        assert_eq!(v["offset"], 7);
        assert_eq!(v["key"], "k");
        assert_eq!(v["headers"]["h"], "x");
        assert!(v["headers"]["n"].is_null());
    }

    #[test]
    fn unknown_placeholders_are_rejected() {
        assert!(Format::parse("%x").is_err());
        assert!(Format::parse("abc%").is_err());
    }
}
