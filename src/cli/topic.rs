//! `runnel topic`: create, list, describe and delete topics, change their configuration and
//! elect their leaders (CreateTopics, Metadata, ListOffsets, DescribeConfigs, DeleteTopics
//! through rdkafka's admin client; IncrementalAlterConfigs, the partition table's Metadata
//! ([`super::topic_partitions`]) and ElectLeaders ([`super::elect`]) through [`super::wire`]);
//! partition reassignments in [`super::reassign`].

use clap::{Args, Subcommand};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::IncrementalAlterConfigsRequest;
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigResource, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use super::common::{
    block_on, code_of, describe as describe_code, metadata, parse_key_value, print_table, CliError,
    CliResult, ConnArgs,
};
use super::wire::{kafka_error_name, WireClient};

/// `runnel topic`.
#[derive(Args, Debug)]
pub struct TopicArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: TopicCommand,
}

#[derive(Subcommand, Debug)]
enum TopicCommand {
    /// Create topics.
    Create {
        /// Topic names.
        #[arg(required = true)]
        names: Vec<String>,
        /// Number of partitions.
        #[arg(short, long, default_value_t = 1)]
        partitions: i32,
        /// Replication factor.
        #[arg(short, long, default_value_t = 1)]
        replicas: i32,
        /// Topic config, e.g. `-c retention.ms=60000` (repeatable).
        #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
        /// Only ask the broker to validate the request; create nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List topics with their partition counts.
    List {
        /// Also list internal topics (`__consumer_offsets`, `__transaction_state`).
        #[arg(short, long)]
        internal: bool,
    },
    /// Show a topic's partitions (leader, leader epoch, replicas, in-sync and offline replicas,
    /// earliest and high-watermark offsets) and configs.
    Describe {
        /// Topic name.
        name: String,
        /// Only partitions whose ISR is smaller than their replica set.
        #[arg(long)]
        under_replicated_partitions: bool,
    },
    /// Elect leaders (ElectLeaders), as kafka-leader-election.sh: the preferred replica, or
    /// (unclean) any live replica of a partition that has no leader.
    ElectLeaders {
        /// `preferred` or `unclean`.
        #[arg(long, value_enum, default_value = "preferred")]
        election_type: super::elect::ElectionType,
        /// The topic (all its partitions unless --partition is given).
        #[arg(long)]
        topic: Option<String>,
        /// One partition of --topic.
        #[arg(long, requires = "topic")]
        partition: Option<i32>,
        /// Every partition of the cluster.
        #[arg(long, conflicts_with = "topic")]
        all_topic_partitions: bool,
    },
    /// Delete topics.
    Delete {
        /// Topic names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Change a topic's configs (IncrementalAlterConfigs): set and delete keys.
    AlterConfig {
        /// Topic name.
        name: String,
        /// Set a config (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Remove a config, reverting it to its default (repeatable).
        #[arg(long = "delete", value_name = "KEY")]
        delete: Vec<String>,
        /// Add values to a list config (repeatable).
        #[arg(long = "append", value_name = "KEY=VALUE")]
        append: Vec<String>,
        /// Remove values from a list config (repeatable).
        #[arg(long = "subtract", value_name = "KEY=VALUE")]
        subtract: Vec<String>,
        /// Only ask the broker to validate the change.
        #[arg(long)]
        dry_run: bool,
    },
    /// Move a partition's replicas, list the moves in progress or cancel one
    /// (AlterPartitionReassignments, ListPartitionReassignments).
    Reassign(super::reassign::ReassignArgs),
}

/// Runs `runnel topic ...`.
pub fn run(args: TopicArgs) -> CliResult {
    let conn = &args.conn;
    match args.command {
        TopicCommand::Create {
            names,
            partitions,
            replicas,
            configs,
            dry_run,
        } => create(conn, &names, partitions, replicas, &configs, dry_run),
        TopicCommand::List { internal } => list(conn, internal),
        TopicCommand::Describe {
            name,
            under_replicated_partitions,
        } => describe(conn, &name, under_replicated_partitions),
        TopicCommand::ElectLeaders {
            election_type,
            topic,
            partition,
            all_topic_partitions,
        } => super::elect::run(
            conn,
            &super::elect::ElectArgs {
                election_type,
                topic,
                partition,
                all: all_topic_partitions,
            },
        ),
        TopicCommand::Delete { names } => delete(conn, &names),
        TopicCommand::AlterConfig {
            name,
            set,
            delete,
            append,
            subtract,
            dry_run,
        } => {
            let ops = AlterOps {
                set,
                delete,
                append,
                subtract,
            };
            alter_config(conn, &name, &ops, dry_run)
        }
        TopicCommand::Reassign(r) => super::reassign::run(conn, r),
    }
}

/// An admin client for `conn`.
pub fn admin(conn: &ConnArgs) -> CliResult<AdminClient<DefaultClientContext>> {
    conn.client_config()?
        .create()
        .map_err(|e| CliError::kafka("creating the admin client", &e))
}

/// Admin options with the request and operation timeouts of `conn`.
pub fn admin_options(conn: &ConnArgs) -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(conn.timeout()))
        .operation_timeout(Some(conn.timeout()))
}

fn create(
    conn: &ConnArgs,
    names: &[String],
    partitions: i32,
    replicas: i32,
    configs: &[String],
    dry_run: bool,
) -> CliResult {
    if partitions < 1 || replicas < 1 {
        return Err(CliError::usage(
            "--partitions and --replicas must be at least 1",
        ));
    }
    let mut kvs = Vec::with_capacity(configs.len());
    for c in configs {
        kvs.push(parse_key_value(c)?);
    }
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| {
            kvs.iter().fold(
                NewTopic::new(n, partitions, TopicReplication::Fixed(replicas)),
                |t, (k, v)| t.set(k, v),
            )
        })
        .collect();
    let a = admin(conn)?;
    let opts = admin_options(conn).validate_only(dry_run);
    let results = block_on(a.create_topics(&topics, &opts))
        .map_err(|e| CliError::kafka("creating topics", &e))?;
    let verb = if dry_run { "validated" } else { "created" };
    report_each("created", results, |name| {
        println!("{verb} topic {name} ({partitions} partitions, replication factor {replicas})")
    })
}

/// Prints each success with `ok`, each failure to stderr; fails when any failed.
fn report_each(
    verb: &str,
    results: Vec<Result<String, (String, RDKafkaErrorCode)>>,
    ok: impl Fn(&str),
) -> CliResult {
    let mut failed = 0;
    let total = results.len();
    for r in results {
        match r {
            Ok(name) => ok(&name),
            Err((name, code)) => {
                failed += 1;
                eprintln!("runnel: topic {name}: {}", describe_code(code));
            }
        }
    }
    if failed > 0 {
        return Err(CliError::failed(format!(
            "{failed} of {total} topic(s) not {verb}"
        )));
    }
    Ok(())
}

fn list(conn: &ConnArgs, internal: bool) -> CliResult {
    let c = conn.plain_consumer()?;
    let md = metadata(&c, None, conn)?;
    let mut rows: Vec<(String, usize, usize)> = md
        .topics()
        .iter()
        .filter(|t| internal || !t.name().starts_with("__"))
        .map(|t| {
            let replicas = t.partitions().first().map_or(0, |p| p.replicas().len());
            (t.name().to_string(), t.partitions().len(), replicas)
        })
        .collect();
    rows.sort();
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(n, p, r)| vec![n, p.to_string(), r.to_string()])
        .collect();
    print_table(&["NAME", "PARTITIONS", "REPLICAS"], &rows);
    Ok(())
}

fn describe(conn: &ConnArgs, name: &str, under_only: bool) -> CliResult {
    let c = conn.plain_consumer()?;
    super::topic_partitions::print(conn, &c, name, under_only)?;
    let a = admin(conn)?;
    let spec = [ResourceSpecifier::Topic(name)];
    let res = block_on(a.describe_configs(&spec, &admin_options(conn)));
    let resource = match res {
        Ok(mut v) if !v.is_empty() => v.remove(0),
        Ok(_) => Err(RDKafkaErrorCode::Fail),
        Err(e) => match code_of(&e) {
            Some(code) => Err(code),
            None => return Err(CliError::kafka("describing configs", &e)),
        },
    };
    println!();
    match resource {
        Ok(r) => {
            print_configs(&r);
            Ok(())
        }
        // A broker without DescribeConfigs: the partitions above are still useful.
        Err(RDKafkaErrorCode::UnsupportedFeature) | Err(RDKafkaErrorCode::UnsupportedVersion) => {
            println!("CONFIGS: not available (the broker does not support DescribeConfigs)");
            Ok(())
        }
        Err(code) => Err(CliError::code(
            &format!("describing configs of {name}"),
            code,
        )),
    }
}

fn print_configs(r: &ConfigResource) {
    let mut entries: Vec<_> = r.entries.iter().collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let rows: Vec<Vec<String>> = entries
        .into_iter()
        .map(|e| {
            let value = if e.is_sensitive {
                "(sensitive)".to_string()
            } else {
                e.value.clone().unwrap_or_else(|| "(null)".to_string())
            };
            vec![e.name.clone(), value, format!("{:?}", e.source)]
        })
        .collect();
    print_table(&["CONFIG", "VALUE", "SOURCE"], &rows);
}

fn delete(conn: &ConnArgs, names: &[String]) -> CliResult {
    let a = admin(conn)?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let results = block_on(a.delete_topics(&refs, &admin_options(conn)))
        .map_err(|e| CliError::kafka("deleting topics", &e))?;
    report_each("deleted", results, |name| println!("deleted topic {name}"))
}

/// The changes of `topic alter-config`.
struct AlterOps {
    set: Vec<String>,
    delete: Vec<String>,
    append: Vec<String>,
    subtract: Vec<String>,
}

impl AlterOps {
    /// The configs to send, with IncrementalAlterConfigs operation codes
    /// (0 set, 1 delete, 2 append, 3 subtract).
    fn configs(&self) -> CliResult<Vec<AlterableConfig>> {
        let mut out = Vec::new();
        for (op, list) in [(0i8, &self.set), (2, &self.append), (3, &self.subtract)] {
            for kv in list {
                let (k, v) = parse_key_value(kv)?;
                out.push(
                    AlterableConfig::default()
                        .with_name(StrBytes::from_string(k.to_string()))
                        .with_config_operation(op)
                        .with_value(Some(StrBytes::from_string(v.to_string()))),
                );
            }
        }
        for k in &self.delete {
            if k.is_empty() || k.contains('=') {
                return Err(CliError::usage(format!(
                    "--delete takes a config name, got `{k}`"
                )));
            }
            out.push(
                AlterableConfig::default()
                    .with_name(StrBytes::from_string(k.clone()))
                    .with_config_operation(1),
            );
        }
        if out.is_empty() {
            return Err(CliError::usage(
                "nothing to change: give --set, --delete, --append or --subtract",
            ));
        }
        Ok(out)
    }
}

fn alter_config(conn: &ConnArgs, name: &str, ops: &AlterOps, dry_run: bool) -> CliResult {
    let configs = ops.configs()?;
    let count = configs.len();
    let req = IncrementalAlterConfigsRequest::default()
        .with_validate_only(dry_run)
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(2) // TOPIC
            .with_resource_name(StrBytes::from_string(name.to_string()))
            .with_configs(configs)]);
    let mut client = WireClient::connect(conn)?;
    let resp = client.send(&req)?;
    let Some(r) = resp.responses.first() else {
        return Err(CliError::failed("empty IncrementalAlterConfigs response"));
    };
    if r.error_code != 0 {
        let detail = r
            .error_message
            .as_ref()
            .map(|m| format!(" ({})", m.as_str()))
            .unwrap_or_default();
        return Err(CliError::failed(format!(
            "altering configs of {name}: {}{detail}",
            kafka_error_name(r.error_code)
        )));
    }
    let verb = if dry_run { "validated" } else { "applied" };
    println!("{verb} {count} config change(s) to topic {name}");
    Ok(())
}
