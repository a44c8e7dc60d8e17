//! `runnel group`: list, describe (members, assignments, committed offsets and lag), delete
//! consumer groups, and `seek` (commit new offsets for a group without active members).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use clap::{Args, Subcommand};
use kafka_protocol::messages::ConsumerProtocolAssignment;
use kafka_protocol::protocol::Decodable;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::groups::GroupInfo;
use rdkafka::{Offset, TopicPartitionList};

use super::common::{
    block_on, metadata, partitions_of, print_table, CliError, CliResult, ConnArgs,
};
use super::topic::{admin, admin_options};

/// `runnel group`.
#[derive(Args, Debug)]
pub struct GroupArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: GroupCommand,
}

#[derive(Subcommand, Debug)]
enum GroupCommand {
    /// List consumer groups with their state and member count.
    List,
    /// Show a group's members and assignments, and its committed offsets and lag per partition.
    Describe {
        /// Group id.
        group: String,
    },
    /// Delete groups (they must have no members).
    Delete {
        /// Group ids.
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Commit new offsets for a group without active members.
    Seek {
        /// Group id.
        group: String,
        /// Where to: start (earliest), end (high watermark) or an offset N.
        #[arg(long)]
        to: String,
        /// Topics to move, every partition of each (comma-separated or repeated; default the
        /// topics the group has committed offsets for).
        #[arg(long, value_delimiter = ',')]
        topics: Vec<String>,
        /// Show the new offsets without committing them.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs `runnel group ...`.
pub fn run(args: GroupArgs) -> CliResult {
    let conn = &args.conn;
    match args.command {
        GroupCommand::List => list(conn),
        GroupCommand::Describe { group } => describe(conn, &group),
        GroupCommand::Delete { groups } => delete(conn, &groups),
        GroupCommand::Seek {
            group,
            to,
            topics,
            dry_run,
        } => seek(conn, &group, &to, &topics, dry_run),
    }
}

fn list(conn: &ConnArgs) -> CliResult {
    let c = conn.plain_consumer()?;
    let groups = c
        .fetch_group_list(None, conn.timeout())
        .map_err(|e| CliError::kafka("listing groups", &e))?;
    let mut rows: Vec<&GroupInfo> = groups.groups().iter().collect();
    rows.sort_by(|a, b| a.name().cmp(b.name()));
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|g| {
            vec![
                g.name().to_string(),
                g.state().to_string(),
                g.members().len().to_string(),
                g.protocol_type().to_string(),
            ]
        })
        .collect();
    print_table(&["GROUP", "STATE", "MEMBERS", "PROTOCOL-TYPE"], &rows);
    Ok(())
}

/// A consumer with `group.id` = `group` that never joins it: committed offsets and commits.
fn group_client(conn: &ConnArgs, group: &str) -> CliResult<BaseConsumer> {
    conn.client_config_with(&[("group.id", group), ("enable.auto.commit", "false")])?
        .create()
        .map_err(|e| CliError::kafka("creating the client", &e))
}

/// A group as DescribeGroups reports it.
struct Group {
    state: String,
    protocol_type: String,
    protocol: String,
    members: Vec<Member>,
}

/// A member of a [`Group`].
struct Member {
    id: String,
    client_id: String,
    host: String,
    assignment: Option<Vec<u8>>,
}

impl Group {
    fn from_info(g: &GroupInfo) -> Group {
        Group {
            state: g.state().to_string(),
            protocol_type: g.protocol_type().to_string(),
            protocol: g.protocol().to_string(),
            members: g
                .members()
                .iter()
                .map(|m| Member {
                    id: m.id().to_string(),
                    client_id: m.client_id().to_string(),
                    host: m.client_host().to_string(),
                    assignment: m.assignment().map(<[u8]>::to_vec),
                })
                .collect(),
        }
    }
}

/// The group as DescribeGroups reports it, if the broker knows it.
fn group_info(c: &BaseConsumer, conn: &ConnArgs, group: &str) -> CliResult<Option<Group>> {
    let list = c
        .fetch_group_list(Some(group), conn.timeout())
        .map_err(|e| CliError::kafka(&format!("describing group {group}"), &e))?;
    Ok(list
        .groups()
        .iter()
        .find(|g| g.name() == group)
        .map(Group::from_info))
}

/// Committed offsets of `group` for every partition of `topics` (all non-internal topics when
/// empty): (topic, partition) -> offset, only where one is committed.
fn committed(
    c: &BaseConsumer,
    conn: &ConnArgs,
    topics: &[String],
) -> CliResult<BTreeMap<(String, i32), i64>> {
    let mut tpl = TopicPartitionList::new();
    if topics.is_empty() {
        let md = metadata(c, None, conn)?;
        for t in md.topics().iter().filter(|t| !t.name().starts_with("__")) {
            for p in t.partitions() {
                tpl.add_partition(t.name(), p.id());
            }
        }
    } else {
        for t in topics {
            for p in partitions_of(c, t, conn)? {
                tpl.add_partition(t, p);
            }
        }
    }
    if tpl.count() == 0 {
        return Ok(BTreeMap::new());
    }
    let got = c
        .committed_offsets(tpl, conn.timeout())
        .map_err(|e| CliError::kafka("fetching committed offsets", &e))?;
    let mut out = BTreeMap::new();
    for e in got.elements() {
        if let Offset::Offset(o) = e.offset() {
            out.insert((e.topic().to_string(), e.partition()), o);
        }
    }
    Ok(out)
}

/// Decodes a member's assignment (Kafka's consumer protocol); `None` when it is not one.
fn assignment(bytes: Option<&[u8]>) -> Option<Vec<(String, i32)>> {
    let b = bytes.filter(|b| b.len() >= 2)?;
    let version = i16::from_be_bytes([b[0], b[1]]);
    let mut buf = Bytes::copy_from_slice(&b[2..]);
    let a = ConsumerProtocolAssignment::decode(&mut buf, version).ok()?;
    let mut out = Vec::new();
    for t in a.assigned_partitions {
        for p in t.partitions {
            out.push((t.topic.0.to_string(), p));
        }
    }
    out.sort();
    Some(out)
}

fn describe(conn: &ConnArgs, group: &str) -> CliResult {
    let c = group_client(conn, group)?;
    let info = group_info(&c, conn, group)?;
    let offsets = committed(&c, conn, &[])?;
    let state = info.as_ref().map_or("Dead", |g| g.state.as_str());
    let members = info.as_ref().map_or(&[][..], |g| g.members.as_slice());
    if (state == "Dead" || state.is_empty()) && members.is_empty() && offsets.is_empty() {
        return Err(CliError::code(
            &format!("group {group}"),
            RDKafkaErrorCode::GroupIdNotFound,
        ));
    }
    println!("GROUP          {group}");
    println!("STATE          {state}");
    if let Some(g) = &info {
        println!("PROTOCOL-TYPE  {}", g.protocol_type);
        println!("PROTOCOL       {}", g.protocol);
    }
    println!("MEMBERS        {}", members.len());
    // Who owns each partition, from the members' assignments.
    let mut owner: BTreeMap<(String, i32), String> = BTreeMap::new();
    if !members.is_empty() {
        println!();
        let mut table = Vec::with_capacity(members.len());
        for m in members {
            let assigned = assignment(m.assignment.as_deref());
            let shown = match &assigned {
                Some(ps) => ps
                    .iter()
                    .map(|(t, p)| format!("{t}/{p}"))
                    .collect::<Vec<_>>()
                    .join(","),
                None => "-".to_string(),
            };
            table.push(vec![
                m.id.clone(),
                m.client_id.clone(),
                m.host.clone(),
                shown,
            ]);
            for tp in assigned.unwrap_or_default() {
                owner.insert(tp, m.id.clone());
            }
        }
        print_table(&["MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNMENT"], &table);
    }
    let keys: BTreeSet<(String, i32)> = offsets.keys().chain(owner.keys()).cloned().collect();
    let mut rows = Vec::with_capacity(keys.len());
    for (topic, p) in keys {
        let (_, high) = c
            .fetch_watermarks(&topic, p, conn.timeout())
            .map_err(|e| CliError::kafka(&format!("offsets of {topic}/{p}"), &e))?;
        let current = offsets.get(&(topic.clone(), p)).copied();
        let lag = current.map_or("-".to_string(), |o| (high - o).max(0).to_string());
        let member = owner.get(&(topic.clone(), p)).map_or("-", String::as_str);
        let current = current.map_or("-".to_string(), |o| o.to_string());
        rows.push(vec![
            topic.clone(),
            p.to_string(),
            current,
            high.to_string(),
            lag,
            member.to_string(),
        ]);
    }
    println!();
    print_table(
        &[
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "MEMBER-ID",
        ],
        &rows,
    );
    Ok(())
}

fn delete(conn: &ConnArgs, groups: &[String]) -> CliResult {
    let a = admin(conn)?;
    let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    let results = block_on(a.delete_groups(&refs, &admin_options(conn)))
        .map_err(|e| CliError::kafka("deleting groups", &e))?;
    let mut failed = 0;
    for r in results {
        match r {
            Ok(g) => println!("deleted group {g}"),
            Err((g, code)) => {
                failed += 1;
                eprintln!("runnel: group {g}: {}", super::common::describe(code));
            }
        }
    }
    if failed > 0 {
        return Err(CliError::failed(format!(
            "{failed} of {} group(s) not deleted",
            groups.len()
        )));
    }
    Ok(())
}

/// The target of `group seek --to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Start,
    End,
    At(i64),
}

impl Target {
    fn parse(s: &str) -> CliResult<Target> {
        match s {
            "start" | "earliest" | "beginning" => Ok(Target::Start),
            "end" | "latest" => Ok(Target::End),
            _ => match s.parse::<i64>() {
                Ok(n) if n >= 0 && !s.starts_with('-') => Ok(Target::At(n)),
                _ => Err(CliError::usage(format!(
                    "--to must be start, end or an offset >= 0, got `{s}`"
                ))),
            },
        }
    }
}

fn seek(conn: &ConnArgs, group: &str, to: &str, topics: &[String], dry_run: bool) -> CliResult {
    let target = Target::parse(to)?;
    let c = group_client(conn, group)?;
    if let Some(g) = group_info(&c, conn, group)? {
        if !g.members.is_empty() {
            return Err(CliError::failed(format!(
                "group {group} has {} active member(s) (state {}): stop them before seeking \
                 (NON_EMPTY_GROUP)",
                g.members.len(),
                g.state
            )));
        }
    }
    let old = committed(&c, conn, topics)?;
    // Every partition of the named topics, or of the topics the group has offsets for.
    let topics: BTreeSet<String> = if topics.is_empty() {
        old.keys().map(|(t, _)| t.clone()).collect()
    } else {
        topics.iter().cloned().collect()
    };
    let mut parts = BTreeSet::new();
    for t in &topics {
        for p in partitions_of(&c, t, conn)? {
            parts.insert((t.clone(), p));
        }
    }
    if parts.is_empty() {
        return Err(CliError::usage(format!(
            "group {group} has no committed offsets: name the topics with --topics"
        )));
    }
    let mut tpl = TopicPartitionList::new();
    let mut rows = Vec::with_capacity(parts.len());
    for (topic, p) in parts {
        let (low, high) = c
            .fetch_watermarks(&topic, p, conn.timeout())
            .map_err(|e| CliError::kafka(&format!("offsets of {topic}/{p}"), &e))?;
        let new = match target {
            Target::Start => low,
            Target::End => high,
            Target::At(n) => n.clamp(low, high),
        };
        tpl.add_partition_offset(&topic, p, Offset::Offset(new))
            .map_err(|e| CliError::kafka("building the offsets", &e))?;
        rows.push((topic.clone(), p, old.get(&(topic, p)).copied(), new));
    }
    if !dry_run {
        c.commit(&tpl, CommitMode::Sync)
            .map_err(|e| CliError::kafka(&format!("committing offsets for {group}"), &e))?;
    }
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(topic, p, old, new)| {
            let old = old.map_or("-".to_string(), |o| o.to_string());
            vec![topic, p.to_string(), old, new.to_string()]
        })
        .collect();
    print_table(&["TOPIC", "PARTITION", "OLD-OFFSET", "NEW-OFFSET"], &rows);
    if dry_run {
        println!("(dry run: nothing committed)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_targets_parse() {
        assert_eq!(Target::parse("start").ok(), Some(Target::Start));
        assert_eq!(Target::parse("end").ok(), Some(Target::End));
        assert_eq!(Target::parse("12").ok(), Some(Target::At(12)));
        assert!(Target::parse("-1").is_err());
        assert!(Target::parse("soon").is_err());
    }

    #[test]
    fn assignments_decode() {
        // version 0, one topic "t" with partitions [0, 2], null user data.
        let mut b = vec![
            0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0,
        ];
        b.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            assignment(Some(&b)),
            Some(vec![("t".to_string(), 0), ("t".to_string(), 2)])
        );
        assert_eq!(assignment(Some(&[1])), None);
    }
}
