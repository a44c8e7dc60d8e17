//! Topic setup through the librdkafka admin client: optional delete, create, and waiting until
//! the broker's metadata shows every partition.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

use crate::workload::Workload;

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on the current thread (the admin client completes its futures
/// from its own background thread, so no async runtime is needed).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = TaskContext::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

fn admin_client(w: &Workload) -> Result<AdminClient<DefaultClientContext>> {
    ClientConfig::new()
        .set("bootstrap.servers", &w.bootstrap)
        // Asking for a missing topic's metadata must not create it.
        .set("allow.auto.create.topics", "false")
        .create()
        .context("creating admin client")
}

/// Partition count of `topic`, or `None` if the broker does not list it. Asks for every topic's
/// metadata: asking for one by name may auto-create it.
fn topic_partitions(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
) -> Result<Option<usize>> {
    let md = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(5))
        .context("fetching metadata")?;
    Ok(md
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len()))
}

/// Makes sure every topic of the workload exists with its partitions: deletes and recreates them
/// when `recreate_topics` is set, otherwise creates only the missing ones. Bounded by
/// `setup_timeout_s`.
pub fn prepare_topics(w: &Workload) -> Result<()> {
    let admin = admin_client(w)?;
    let names = w.topic_names();
    let timeout = Duration::from_secs_f64(w.setup_timeout_s.max(1.0));
    let opts = AdminOptions::new()
        .request_timeout(Some(timeout))
        .operation_timeout(Some(timeout));
    let deadline = Instant::now() + timeout;

    if w.recreate_topics {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let results = block_on(admin.delete_topics(&refs, &opts)).context("deleting topics")?;
        for r in results {
            if let Err((name, code)) = r {
                if code != RDKafkaErrorCode::UnknownTopicOrPartition {
                    bail!("deleting topic {name}: {code}");
                }
            }
        }
        for name in &names {
            while topic_partitions(&admin, name)?.is_some() {
                if Instant::now() > deadline {
                    bail!("topic {name} still exists after deleting it");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    let new: Vec<NewTopic> = names
        .iter()
        .map(|n| {
            w.topic_config.iter().fold(
                NewTopic::new(
                    n,
                    w.partitions,
                    TopicReplication::Fixed(i32::from(w.replication_factor)),
                ),
                |t, (k, v)| t.set(k, v),
            )
        })
        .collect();
    let results = block_on(admin.create_topics(&new, &opts)).context("creating topics")?;
    for r in results {
        if let Err((name, code)) = r {
            if code != RDKafkaErrorCode::TopicAlreadyExists || w.recreate_topics {
                bail!("creating topic {name}: {code}");
            }
        }
    }

    for name in &names {
        loop {
            match topic_partitions(&admin, name)? {
                Some(n) if n == w.partitions as usize => break,
                Some(n) if !w.recreate_topics && n != 0 => {
                    return Err(anyhow!(
                        "existing topic {name} has {n} partitions, the workload wants {}; \
                         set recreate_topics = true",
                        w.partitions
                    ))
                }
                _ => {}
            }
            if Instant::now() > deadline {
                bail!(
                    "topic {name} did not show up with {} partitions",
                    w.partitions
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

/// Deletes the workload's topics (best effort: errors are returned but nothing is retried).
pub fn delete_topics(w: &Workload) -> Result<()> {
    let admin = admin_client(w)?;
    let names = w.topic_names();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ten = Some(Duration::from_secs(10));
    let opts = AdminOptions::new()
        .request_timeout(ten)
        .operation_timeout(ten);
    for r in block_on(admin.delete_topics(&refs, &opts)).context("deleting topics")? {
        if let Err((name, code)) = r {
            bail!("deleting topic {name}: {code}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::block_on;

    #[test]
    fn block_on_runs_ready_and_pending_futures() {
        assert_eq!(block_on(async { 7 }), 7);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let waited = std::thread::spawn(move || {
            let mut yielded = false;
            block_on(std::future::poll_fn(|cx| {
                if yielded && rx.try_recv().is_ok() {
                    std::task::Poll::Ready(1)
                } else {
                    yielded = true;
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            }))
        });
        tx.send(()).unwrap();
        assert_eq!(waited.join().unwrap(), 1);
    }
}
