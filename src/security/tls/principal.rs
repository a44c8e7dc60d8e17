//! The principal of a client certificate, as Kafka's default `ssl.principal.mapping.rules`
//! (`DEFAULT`) makes it: `User:` and the certificate's subject as an RFC 2253 distinguished
//! name (`CN=client,OU=eng,O=Acme,C=US`: the last RDN first, Java's `X500Principal.getName()`
//! form, which is what Kafka ACLs for mTLS users are written against).

use x509_parser::der_parser::asn1_rs::ToDer;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use crate::security::principal::KafkaPrincipal;

/// The keywords RFC 2253 defines (other attributes are written as dotted OIDs).
const KEYWORDS: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.6", "C"),
    ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

/// `User:<subject DN>` of a DER certificate; `None` when it does not parse.
pub fn from_certificate(der: &[u8]) -> Option<KafkaPrincipal> {
    subject(der).map(|dn| KafkaPrincipal::user(&dn))
}

/// The subject of a DER certificate in RFC 2253 form; `None` when it does not parse.
pub fn subject(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(rfc2253(cert.subject()))
}

/// `name` in RFC 2253 form.
pub fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<&x509_parser::x509::RelativeDistinguishedName<'_>> = name.iter_rdn().collect();
    rdns.iter()
        .rev()
        .map(|rdn| rdn.iter().map(attribute).collect::<Vec<String>>().join("+"))
        .collect::<Vec<String>>()
        .join(",")
}

fn attribute(atv: &AttributeTypeAndValue<'_>) -> String {
    let oid = atv.attr_type().to_id_string();
    let keyword = KEYWORDS.iter().find(|(o, _)| *o == oid).map(|(_, k)| *k);
    match (keyword, atv.as_str()) {
        (Some(k), Ok(value)) => format!("{k}={}", escape(value)),
        // Not a string, or not a keyword: the dotted OID and the value's DER in hex.
        (k, _) => {
            let der = atv.attr_value().to_der_vec().unwrap_or_default();
            let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
            format!("{}=#{hex}", k.map(str::to_string).unwrap_or(oid))
        }
    }
}

/// RFC 2253 section 2.4 escaping.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
