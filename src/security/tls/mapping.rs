//! Kafka's `ssl.principal.mapping.rules`: how a client certificate's subject (RFC 2253) becomes
//! the name of its `User:` principal. A comma-separated list of rules, tried in order, the
//! first that applies wins:
//!
//! - `DEFAULT`: the subject as it is (the default list is just this rule);
//! - `RULE:pattern/replacement/` with an optional `L` or `U` after the last slash: applies when
//!   the regular expression matches the whole subject; the result is the replacement, where
//!   `$n` is the n-th group (a `$n` beyond the groups is kept as text, as Kafka does) and `\`
//!   escapes the next character; `L`/`U` lower- or upper-case it. A `/` or `,` inside a
//!   pattern or replacement is written `\/` or `\,`.
//!
//! A subject no rule applies to has no principal, and its connection is refused (Kafka fails
//! the authentication the same way). Patterns are Rust's `regex` syntax, which agrees with
//! Java's for what such rules use (classes, groups, lazy quantifiers, anchors); look-around
//! and back-references inside a pattern are refused at startup.

use regex::Regex;

use super::{bad, TlsConfigError};

/// Longest rule list accepted.
const MAX_RULES_LEN: usize = 16 * 1024;
/// Largest compiled pattern (bytes of the regex engine's program).
const MAX_PATTERN_SIZE: usize = 1 << 20;

/// One part of a replacement.
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Group(usize),
}

/// One rule of the list.
#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace {
        pattern: Regex,
        replacement: Vec<Piece>,
        case: Case,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

/// A parsed `ssl.principal.mapping.rules` value.
#[derive(Debug, Clone)]
pub struct PrincipalMapper {
    source: String,
    rules: Vec<Rule>,
}

impl PartialEq for PrincipalMapper {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for PrincipalMapper {}

impl Default for PrincipalMapper {
    fn default() -> Self {
        PrincipalMapper {
            source: "DEFAULT".into(),
            rules: vec![Rule::Default],
        }
    }
}

impl PrincipalMapper {
    /// Parses a rule list; the error names the rule at fault.
    pub fn parse(text: &str) -> Result<PrincipalMapper, TlsConfigError> {
        if text.len() > MAX_RULES_LEN {
            return Err(bad("ssl.principal.mapping.rules is too long"));
        }
        let mut rules = Vec::new();
        let mut rest = text.trim_start();
        while !rest.is_empty() {
            let (rule, after) = parse_rule(rest)?;
            rules.extend(rule);
            rest = after.trim_start();
            match rest.strip_prefix(',') {
                Some(r) => rest = r.trim_start(),
                None if rest.is_empty() => {}
                None => {
                    return Err(bad(format!(
                        "ssl.principal.mapping.rules: unexpected text {:?}",
                        rest.chars().take(40).collect::<String>()
                    )))
                }
            }
        }
        if rules.is_empty() {
            return Err(bad("ssl.principal.mapping.rules names no rule"));
        }
        Ok(PrincipalMapper {
            source: text.to_string(),
            rules,
        })
    }

    /// The principal name of the subject `dn`, or `None` when no rule applies.
    pub fn map(&self, dn: &str) -> Option<String> {
        self.rules.iter().find_map(|r| apply(r, dn))
    }
}

fn apply(rule: &Rule, dn: &str) -> Option<String> {
    let Rule::Replace {
        pattern,
        replacement,
        case,
    } = rule
    else {
        return Some(dn.to_string());
    };
    let caps = pattern.captures(dn)?;
    let mut out = String::new();
    for piece in replacement {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Group(g) => out.push_str(caps.get(*g).map_or("", |m| m.as_str())),
        }
    }
    Some(match case {
        Case::Keep => out,
        Case::Lower => out.to_lowercase(),
        Case::Upper => out.to_uppercase(),
    })
}

/// One rule at the start of `s`; `None` for an empty one. Returns what follows it.
fn parse_rule(s: &str) -> Result<(Option<Rule>, &str), TlsConfigError> {
    if let Some(rest) = s.strip_prefix("DEFAULT") {
        return Ok((Some(Rule::Default), rest));
    }
    if s.starts_with(',') {
        return Ok((None, s));
    }
    let Some(body) = s.strip_prefix("RULE:") else {
        return Err(bad(format!(
            "ssl.principal.mapping.rules: invalid rule at {:?} (DEFAULT or RULE:pattern/replacement/[L|U])",
            s.chars().take(40).collect::<String>()
        )));
    };
    let (pattern, rest) = until_slash(body).ok_or_else(|| {
        bad(format!(
            "ssl.principal.mapping.rules: RULE:{body} has no '/'"
        ))
    })?;
    let (replacement, rest) = until_slash(rest).ok_or_else(|| {
        bad(format!(
            "ssl.principal.mapping.rules: RULE:{pattern}/ has no closing '/'"
        ))
    })?;
    let (case, rest) = match rest.chars().next() {
        Some('L') => (Case::Lower, &rest[1..]),
        Some('U') => (Case::Upper, &rest[1..]),
        _ => (Case::Keep, rest),
    };
    let regex = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(MAX_PATTERN_SIZE)
        .build()
        .map_err(|e| {
            bad(format!(
                "ssl.principal.mapping.rules: pattern {pattern:?}: {e}"
            ))
        })?;
    let groups = regex.captures_len() - 1;
    let replacement = parse_replacement(&replacement, groups)?;
    Ok((
        Some(Rule::Replace {
            pattern: regex,
            replacement,
            case,
        }),
        rest,
    ))
}

/// The text up to the first unescaped `/` (escapes kept, except `\/` and `\,` which become the
/// character), and what follows the slash.
fn until_slash(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '/' => return Some((out, &s[i + 1..])),
            '\\' => {
                let (_, next) = chars.next()?;
                if next != '/' && next != ',' {
                    out.push('\\');
                }
                out.push(next);
            }
            c => out.push(c),
        }
    }
    None
}

/// Java's replacement syntax with Kafka's treatment of references beyond the groups.
fn parse_replacement(s: &str, groups: usize) -> Result<Vec<Piece>, TlsConfigError> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let c = chars.get(i + 1).ok_or_else(|| {
                    bad(format!(
                        "ssl.principal.mapping.rules: replacement {s:?} ends with '\\'"
                    ))
                })?;
                text.push(*c);
                i += 2;
            }
            '$' => {
                let first = chars.get(i + 1).and_then(|c| c.to_digit(10));
                match first {
                    Some(d) if (d as usize) <= groups => {
                        let mut g = d as usize;
                        i += 2;
                        while let Some(next) = chars.get(i).and_then(|c| c.to_digit(10)) {
                            let wider = g * 10 + next as usize;
                            if wider > groups {
                                break;
                            }
                            g = wider;
                            i += 1;
                        }
                        if !text.is_empty() {
                            pieces.push(Piece::Text(std::mem::take(&mut text)));
                        }
                        pieces.push(Piece::Group(g));
                    }
                    // A reference beyond the groups is text (Kafka's escaping of it).
                    Some(_) => {
                        text.push('$');
                        i += 1;
                    }
                    None => {
                        return Err(bad(format!(
                            "ssl.principal.mapping.rules: replacement {s:?}: '$' must be \
                             followed by a group number (write \\$ for a dollar sign)"
                        )))
                    }
                }
            }
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of Kafka's documentation and its SslPrincipalMapper tests.
    #[test]
    fn kafkas_examples() {
        let m = PrincipalMapper::parse(
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,\
             RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,\
             RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,\
             DEFAULT",
        )
        .unwrap();
        assert_eq!(
            m.map("CN=kafka-server1,OU=ServiceUsers,O=Org,C=US")
                .as_deref(),
            Some("kafka-server1")
        );
        assert_eq!(
            m.map("CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Santa Clara,ST=CA,C=US")
                .as_deref(),
            Some("duke@javasoft")
        );
        assert_eq!(
            m.map("OU=JavaSoft,CN=Duke.X,O=Sun").as_deref(),
            Some("duke.x")
        );
        assert_eq!(m.map("O=Nobody").as_deref(), Some("O=Nobody"));
        // Upper case, a reference beyond the groups kept as text, escapes.
        let m = PrincipalMapper::parse(r"RULE:^CN=([a-z]+)(,.*)?$/$1-$9\$x\/y/U").unwrap();
        assert_eq!(m.map("CN=duke,O=Sun").as_deref(), Some("DUKE-$9$X/Y"));
        // An escaped comma inside a pattern; several rules with spaces around commas.
        let m = PrincipalMapper::parse(r"RULE:^CN=(.*)\,O=Sun$/$1/ , DEFAULT").unwrap();
        assert_eq!(m.map("CN=a,O=Sun").as_deref(), Some("a"));
        assert_eq!(m.map("CN=a,O=Moon").as_deref(), Some("CN=a,O=Moon"));
        // Multi-digit references take digits while they name a group.
        let m = PrincipalMapper::parse("RULE:^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)$/$12|$13|$1/")
            .unwrap();
        assert_eq!(m.map("abcdefghijkl").as_deref(), Some("l|a3|a"));
    }

    #[test]
    fn no_rule_applies_and_bad_rules() {
        let m = PrincipalMapper::parse("RULE:^CN=(.*)$/$1/").unwrap();
        assert_eq!(m.map("O=Sun"), None);
        assert_eq!(
            PrincipalMapper::default().map("CN=x").as_deref(),
            Some("CN=x")
        );
        for bad in [
            "",
            "RULE:abc",
            "RULE:abc/def",
            "NOPE",
            "RULE:(/x/",
            "RULE:^(a)$/$/",
            "DEFAULT junk",
            "RULE:(?=a)/x/",
        ] {
            assert!(PrincipalMapper::parse(bad).is_err(), "{bad:?}");
        }
        assert!(PrincipalMapper::parse(&"DEFAULT,".repeat(3000)).is_err());
    }
}
