//! Kafka's `sasl.jaas.config` value, parsed: one JAAS login module entry,
//! `<LoginModule class> <flag> key="value" ...;`. A broker reads its own inter-broker
//! credentials from it (`username` and `password`), as Kafka's brokers do from
//! `listener.name.<listener>.<mechanism>.sasl.jaas.config`. Values are quoted strings (with
//! `\"` and `\\` escapes) or bare words; anything else is refused with what is wrong, never
//! guessed.

use std::collections::BTreeMap;

/// Longest value accepted (a config value, not a file).
const MAX_LEN: usize = 64 * 1024;

/// One parsed login module entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasEntry {
    /// The login module's class (e.g. `org.apache.kafka.common.security.scram.ScramLoginModule`).
    pub module: String,
    /// The control flag (`required`, `requisite`, `sufficient`, `optional`).
    pub flag: String,
    /// The options, by name.
    pub options: BTreeMap<String, String>,
}

impl JaasEntry {
    /// Parses `text`; `Err` says what is malformed.
    pub fn parse(text: &str) -> Result<JaasEntry, String> {
        if text.len() > MAX_LEN {
            return Err(format!("longer than {MAX_LEN} bytes"));
        }
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let module = p.word().ok_or("no login module class")?;
        let flag = p.word().ok_or("no control flag after the login module")?;
        if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
            return Err(format!(
                "control flag {flag:?} is not required, requisite, sufficient or optional"
            ));
        }
        let mut options = BTreeMap::new();
        loop {
            p.skip_space();
            match p.peek() {
                Some(b';') => {
                    p.i += 1;
                    p.skip_space();
                    if p.peek().is_some() {
                        return Err("only one login module entry is supported".into());
                    }
                    break;
                }
                None => return Err("missing ';' at the end".into()),
                Some(_) => {}
            }
            let key = p.word().ok_or("an option without a name")?;
            p.skip_space();
            if p.peek() != Some(b'=') {
                return Err(format!("option {key} has no '='"));
            }
            p.i += 1;
            p.skip_space();
            let value = if p.peek() == Some(b'"') {
                p.quoted()
                    .ok_or(format!("option {key}: unterminated quote"))?
            } else {
                p.word().ok_or(format!("option {key} has no value"))?
            };
            options.insert(key, value);
        }
        Ok(JaasEntry {
            module,
            flag,
            options,
        })
    }

    /// The `username` and `password` options, both needed.
    pub fn credentials(&self) -> Result<(String, String), String> {
        match (self.options.get("username"), self.options.get("password")) {
            (Some(u), Some(p)) if !u.is_empty() => Ok((u.clone(), p.clone())),
            _ => Err("needs username=\"...\" and password=\"...\"".into()),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    /// A bare word: anything up to white space, `=`, `;` or a quote.
    fn word(&mut self) -> Option<String> {
        self.skip_space();
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| !c.is_ascii_whitespace() && !b"=;\"".contains(&c))
        {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A double-quoted string with `\` escapes; the cursor is on the opening quote.
    fn quoted(&mut self) -> Option<String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let c = self.peek()?;
            self.i += 1;
            match c {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    out.push(self.peek()?);
                    self.i += 1;
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_forms() {
        let e = JaasEntry::parse(
            "org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"broker\" password=\"br0ker-s3cret\";",
        )
        .unwrap();
        assert_eq!(
            e.module,
            "org.apache.kafka.common.security.scram.ScramLoginModule"
        );
        assert_eq!(e.flag, "required");
        assert_eq!(
            e.credentials().unwrap(),
            ("broker".into(), "br0ker-s3cret".into())
        );
        // PLAIN's broker entry, with user_ options, bare words and escapes, over lines.
        let e = JaasEntry::parse(
            "org.apache.kafka.common.security.plain.PlainLoginModule required\n  \
             username=admin\n  password=\"a \\\"quoted\\\" pass\\\\word\"\n  user_admin=\"x\" ;  ",
        )
        .unwrap();
        assert_eq!(
            e.credentials().unwrap(),
            ("admin".into(), "a \"quoted\" pass\\word".into())
        );
        assert_eq!(e.options["user_admin"], "x");
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let err = |t: &str| JaasEntry::parse(t).unwrap_err();
        assert!(err("").contains("login module"));
        assert!(err("M").contains("control flag"));
        assert!(err("M always;").contains("always"));
        assert!(err("M required username=\"x\"").contains("';'"));
        assert!(err("M required username=\"x;").contains("unterminated"));
        assert!(err("M required username;").contains("'='"));
        assert!(err("M required a=b; N required c=d;").contains("one login module"));
        assert!(err(&"x".repeat(70_000)).contains("longer"));
        let e = JaasEntry::parse("M required password=\"p\";").unwrap();
        assert!(e.credentials().is_err());
    }
}
