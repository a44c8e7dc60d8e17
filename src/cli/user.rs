//! `runnel user create|delete|list`: SCRAM credentials, with AlterUserScramCredentials and
//! DescribeUserScramCredentials over the small wire client (librdkafka's admin API is not
//! exposed by the `rdkafka` crate). As Kafka's `kafka-configs --alter --add-config
//! 'SCRAM-SHA-512=[password=...]'` does, the salt is drawn here and the password is salted
//! here (PBKDF2 with the mechanism's HMAC): the broker receives the salted password only, and
//! stores only the keys derived from it.

use clap::{Args, Subcommand};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};
use kafka_protocol::protocol::StrBytes;
use sha2::{Sha256, Sha512};

use super::common::{CliError, CliResult, ConnArgs};
use super::wire::{kafka_error_name, WireClient};

/// Iterations used when `--iterations` is not given (Kafka's tools default to 4096; more is
/// safer and still within Kafka's 4096..16384).
const DEFAULT_ITERATIONS: i32 = 8192;
/// Bytes of random salt per credential.
const SALT_LEN: usize = 32;

/// `runnel user`.
#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create a SASL/SCRAM user, or change its password.
    Create {
        /// The user name.
        name: String,
        /// The password (salted here; the broker never sees it).
        #[arg(long, env = "RUNNEL_USER_PASSWORD")]
        password: String,
        /// SCRAM-SHA-256 or SCRAM-SHA-512 (repeatable; default both).
        #[arg(long = "mechanism", value_name = "MECHANISM")]
        mechanisms: Vec<String>,
        /// PBKDF2 iterations, 4096 to 16384.
        #[arg(long, default_value_t = DEFAULT_ITERATIONS)]
        iterations: i32,
    },
    /// Delete a user's SCRAM credentials.
    Delete {
        /// The user name.
        name: String,
        /// Only this mechanism's credential (repeatable; default: every one the user has).
        #[arg(long = "mechanism", value_name = "MECHANISM")]
        mechanisms: Vec<String>,
    },
    /// List users with SCRAM credentials, with their mechanisms and iteration counts.
    List {
        /// Only these users (default: every user).
        names: Vec<String>,
    },
}

/// Kafka's number of a SCRAM mechanism name.
fn mechanism_type(name: &str) -> CliResult<i8> {
    match name.to_ascii_uppercase().as_str() {
        "SCRAM-SHA-256" => Ok(1),
        "SCRAM-SHA-512" => Ok(2),
        _ => Err(CliError::usage(format!(
            "unknown mechanism {name} (SCRAM-SHA-256 or SCRAM-SHA-512)"
        ))),
    }
}

/// The name of Kafka's SCRAM mechanism number.
fn mechanism_name(t: i8) -> String {
    match t {
        1 => "SCRAM-SHA-256".into(),
        2 => "SCRAM-SHA-512".into(),
        other => format!("UNKNOWN({other})"),
    }
}

/// SCRAM's `Hi(password, salt, iterations)` for mechanism number `mechanism`.
pub fn salted_password(mechanism: i8, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    if mechanism == 2 {
        let mut out = vec![0; 64];
        pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
        out
    } else {
        let mut out = vec![0; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
        out
    }
}

fn mechanisms_or_both(names: &[String]) -> CliResult<Vec<i8>> {
    if names.is_empty() {
        return Ok(vec![1, 2]);
    }
    let mut out = Vec::new();
    for n in names {
        let t = mechanism_type(n)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Runs `runnel user ...`.
pub fn run(args: UserArgs) -> CliResult<()> {
    match args.command {
        UserCommand::Create {
            name,
            password,
            mechanisms,
            iterations,
        } => create(&args.conn, &name, &password, &mechanisms, iterations),
        UserCommand::Delete { name, mechanisms } => delete(&args.conn, &name, &mechanisms),
        UserCommand::List { names } => list(&args.conn, &names),
    }
}

/// One AlterUserScramCredentials per mechanism (Kafka refuses a user twice in one request).
fn alter(
    client: &mut WireClient,
    req: AlterUserScramCredentialsRequest,
    what: &str,
) -> CliResult<()> {
    let resp = client.send(&req)?;
    for r in &resp.results {
        if r.error_code != 0 {
            let detail = r
                .error_message
                .as_ref()
                .map(|m| format!(" ({})", m.as_str()))
                .unwrap_or_default();
            return Err(CliError::failed(format!(
                "{what} {}: {}{detail}",
                r.user.as_str(),
                kafka_error_name(r.error_code)
            )));
        }
    }
    Ok(())
}

fn create(
    conn: &ConnArgs,
    name: &str,
    password: &str,
    mechanisms: &[String],
    iterations: i32,
) -> CliResult<()> {
    let mechs = mechanisms_or_both(mechanisms)?;
    if !(4096..=16384).contains(&iterations) {
        return Err(CliError::usage("--iterations must be within 4096..16384"));
    }
    let mut client = WireClient::connect(conn)?;
    for m in &mechs {
        let mut salt = vec![0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| CliError::failed(format!("no random salt: {e}")))?;
        let mut u = ScramCredentialUpsertion::default();
        u.name = StrBytes::from_string(name.to_string());
        u.mechanism = *m;
        u.iterations = iterations;
        u.salted_password =
            salted_password(*m, password.as_bytes(), &salt, iterations as u32).into();
        u.salt = salt.into();
        let mut req = AlterUserScramCredentialsRequest::default();
        req.upsertions = vec![u];
        alter(&mut client, req, "creating user")?;
        println!(
            "user {name}: {} credential set ({iterations} iterations)",
            mechanism_name(*m)
        );
    }
    Ok(())
}

/// One user's (mechanism, iterations) pairs, or the broker's error name for it.
type Described = (String, Result<Vec<(i8, i32)>, String>);

/// The credentials of `names` (every user when empty).
fn describe(client: &mut WireClient, names: &[String]) -> CliResult<Vec<Described>> {
    let mut req = DescribeUserScramCredentialsRequest::default();
    req.users = if names.is_empty() {
        None
    } else {
        Some(
            names
                .iter()
                .map(|n| {
                    let mut u = UserName::default();
                    u.name = StrBytes::from_string(n.clone());
                    u
                })
                .collect(),
        )
    };
    let resp = client.send(&req)?;
    if resp.error_code != 0 {
        return Err(CliError::failed(format!(
            "describing users: {}",
            kafka_error_name(resp.error_code)
        )));
    }
    Ok(resp
        .results
        .iter()
        .map(|r| {
            let out = if r.error_code != 0 {
                Err(kafka_error_name(r.error_code))
            } else {
                Ok(r.credential_infos
                    .iter()
                    .map(|c| (c.mechanism, c.iterations))
                    .collect())
            };
            (r.user.to_string(), out)
        })
        .collect())
}

fn delete(conn: &ConnArgs, name: &str, mechanisms: &[String]) -> CliResult<()> {
    let mut client = WireClient::connect(conn)?;
    let mechs: Vec<i8> = if mechanisms.is_empty() {
        match describe(&mut client, &[name.to_string()])?
            .into_iter()
            .next()
        {
            Some((_, Ok(infos))) => infos.into_iter().map(|(m, _)| m).collect(),
            Some((_, Err(e))) => {
                return Err(CliError::failed(format!("deleting user {name}: {e}")))
            }
            None => Vec::new(),
        }
    } else {
        mechanisms_or_both(mechanisms)?
    };
    for m in mechs {
        let mut d = ScramCredentialDeletion::default();
        d.name = StrBytes::from_string(name.to_string());
        d.mechanism = m;
        let mut req = AlterUserScramCredentialsRequest::default();
        req.deletions = vec![d];
        alter(&mut client, req, "deleting user")?;
        println!("user {name}: {} credential deleted", mechanism_name(m));
    }
    Ok(())
}

fn list(conn: &ConnArgs, names: &[String]) -> CliResult<()> {
    let mut client = WireClient::connect(conn)?;
    let users = describe(&mut client, names)?;
    let mut failed = None;
    println!("{:<32} {:<14} ITERATIONS", "USER", "MECHANISM");
    for (user, r) in users {
        match r {
            Ok(infos) => {
                for (m, i) in infos {
                    println!("{user:<32} {:<14} {i}", mechanism_name(m));
                }
            }
            Err(e) => {
                eprintln!("runnel: user {user}: {e}");
                failed = Some(format!("user {user}: {e}"));
            }
        }
    }
    match failed {
        Some(e) => Err(CliError::failed(e)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salted_passwords_have_their_mechanisms_lengths() {
        let salt = [
            0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36,
            0xfa, 0x81,
        ];
        let s = salted_password(1, b"pencil", &salt, 4096);
        assert_eq!(s.len(), 32);
        assert_eq!(salted_password(2, b"pencil", &salt, 4096).len(), 64);
        assert_ne!(s, salted_password(1, b"pencil!", &salt, 4096));
        assert_eq!(mechanism_type("scram-sha-512").unwrap(), 2);
        assert!(mechanism_type("PLAIN").is_err());
    }
}
