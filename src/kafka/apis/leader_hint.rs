//! KIP-951: a `NOT_LEADER_OR_FOLLOWER` answer to Produce (v10+) or Fetch (v12+) carries the
//! partition's current leader and leader epoch from the controller's image, and the leader's
//! endpoint (Produce v10+, Fetch v16+), so that a client can go to the new leader without first
//! asking Metadata.

use kafka_protocol::messages::BrokerId;
use kafka_protocol::protocol::StrBytes;
use runnel_controller::MetadataImage;

/// A partition's leader and leader epoch in the image, by topic name or (when the name is
/// `None`) topic id; `None` when the image does not have the partition.
pub fn leader_of(
    image: &MetadataImage,
    name: Option<&str>,
    id: uuid::Uuid,
    partition: i32,
) -> Option<(i32, i32)> {
    let topic = match name {
        Some(n) => image.topic_by_name(n),
        None => image.topic(&id),
    }?;
    let p = topic.partitions.get(usize::try_from(partition).ok()?)?;
    Some((p.leader, p.leader_epoch))
}

/// A live broker's endpoint of listener `listener` (id, host, port, rack) in the image.
pub fn endpoint(
    image: &MetadataImage,
    broker: i32,
    listener: &str,
) -> Option<(BrokerId, StrBytes, i32, Option<StrBytes>)> {
    let b = image.broker(broker).filter(|b| !b.fenced)?;
    let e = b.endpoints.iter().find(|e| e.name == listener)?;
    Some((
        BrokerId(broker),
        StrBytes::from_string(e.host.clone()),
        e.port as i32,
        b.rack.clone().map(StrBytes::from_string),
    ))
}
