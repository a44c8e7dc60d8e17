//! Group visibility and administration on the coordinating core: ListGroups (this core's
//! share), DescribeGroups, ConsumerGroupDescribe and DeleteGroups.

use std::rc::Rc;

use kafka_protocol::messages::consumer_group_describe_response::{
    self as cgd, DescribedGroup as ConsumerDescribed,
};
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::consumer::Owned;
use super::records::OffsetsKey;
use super::state::{ClassicState, GroupKind};
use super::Coordinator;
use super::{partition_of, serving, store};
use crate::cluster::TopicTable;
use crate::errors::KafkaError;

/// One group in a ListGroups answer.
#[derive(Debug, Clone)]
pub struct ListedGroup {
    /// Group id.
    pub group_id: String,
    /// Protocol type ("consumer", or empty for offsets-only groups).
    pub protocol_type: String,
    /// State name.
    pub state: String,
    /// "classic" or "consumer".
    pub group_type: String,
}

/// The groups this core coordinates (of the partitions it has loaded).
pub fn list(coord: &Rc<Coordinator>) -> Vec<ListedGroup> {
    coord
        .groups
        .borrow()
        .values()
        .filter(|g| coord.loads.is_loaded(g.partition))
        .map(|g| ListedGroup {
            group_id: g.id.clone(),
            protocol_type: g.protocol_type(),
            state: g.state_name().to_string(),
            group_type: g.type_name().to_string(),
        })
        .collect()
}

fn s(v: impl Into<String>) -> StrBytes {
    StrBytes::from_string(v.into())
}

/// Describes a classic group (DescribeGroups). Unknown groups are reported as Dead, as Kafka
/// does; from v6 with GROUP_ID_NOT_FOUND.
pub fn describe(coord: &Rc<Coordinator>, group: &str, version: i16) -> DescribedGroup {
    let mut d = DescribedGroup::default();
    d.group_id = GroupId(s(group));
    if let Err(e) = serving(coord, partition_of(coord, group)) {
        d.error_code = e.code();
        return d;
    }
    let groups = coord.groups.borrow();
    let not_found = |d: &mut DescribedGroup, msg: &str| {
        d.group_state = s("Dead");
        if version >= 6 {
            d.error_code = KafkaError::GroupIdNotFound.code();
            d.error_message = Some(s(msg));
        }
    };
    match groups.get(group).map(|g| &g.kind) {
        None => not_found(&mut d, "The group does not exist."),
        Some(GroupKind::Consumer(_)) => not_found(&mut d, "The group is not a classic group."),
        Some(GroupKind::Classic(c)) => {
            d.group_state = s(c.state.name());
            d.protocol_type = s(c.protocol_type.clone().unwrap_or_default());
            let stable = c.state == ClassicState::Stable;
            d.protocol_data = s(if stable {
                c.protocol.clone().unwrap_or_default()
            } else {
                String::new()
            });
            let protocol = c.protocol.clone().unwrap_or_default();
            d.members = c
                .join_order
                .iter()
                .filter_map(|id| c.members.get(id))
                .map(|m| {
                    let mut dm = DescribedGroupMember::default();
                    dm.member_id = s(m.id.clone());
                    if version >= 4 {
                        dm.group_instance_id = m.instance_id.clone().map(s);
                    }
                    dm.client_id = s(m.client_id.clone());
                    dm.client_host = s(m.client_host.clone());
                    if stable {
                        dm.member_metadata = m.metadata(&protocol);
                        dm.member_assignment = m.assignment.clone();
                    }
                    dm
                })
                .collect();
        }
    }
    if version >= 3 {
        d.authorized_operations = i32::MIN;
    }
    d
}

fn describe_assignment(o: &Owned, table: &TopicTable) -> cgd::Assignment {
    let mut a = cgd::Assignment::default();
    a.topic_partitions = o
        .iter()
        .filter_map(|(t, ps)| {
            let meta = table.get(t)?;
            let mut tp = cgd::TopicPartitions::default();
            tp.topic_id = meta.uuid();
            tp.topic_name = TopicName(s(t.clone()));
            tp.partitions = ps.iter().copied().collect();
            Some(tp)
        })
        .collect();
    a
}

/// Describes a KIP-848 group (ConsumerGroupDescribe).
pub fn consumer_describe(coord: &Rc<Coordinator>, group: &str, version: i16) -> ConsumerDescribed {
    let mut d = ConsumerDescribed::default();
    d.group_id = GroupId(s(group));
    d.authorized_operations = i32::MIN;
    if let Err(e) = serving(coord, partition_of(coord, group)) {
        d.error_code = e.code();
        return d;
    }
    let table = coord.topics.topic_table();
    let groups = coord.groups.borrow();
    let Some(GroupKind::Consumer(cg)) = groups.get(group).map(|g| &g.kind) else {
        d.error_code = KafkaError::GroupIdNotFound.code();
        d.error_message = Some(s(format!("Group {group} is not a consumer group.")));
        return d;
    };
    d.group_state = s(cg.state_name());
    d.group_epoch = cg.epoch;
    d.assignment_epoch = cg.assignment_epoch;
    d.assignor_name = s(cg.assignor.clone());
    d.members = cg
        .members
        .values()
        .map(|m| {
            let mut dm = cgd::Member::default();
            dm.member_id = s(m.id.clone());
            dm.instance_id = m.instance_id.clone().map(s);
            dm.rack_id = m.rack_id.clone().map(s);
            dm.member_epoch = m.epoch;
            dm.client_id = s(m.client_id.clone());
            dm.client_host = s(m.client_host.clone());
            dm.subscribed_topic_names = m
                .subscribed
                .iter()
                .map(|t| TopicName(s(t.clone())))
                .collect();
            dm.assignment = describe_assignment(&m.assigned, &table);
            dm.target_assignment =
                describe_assignment(&cg.target.get(&m.id).cloned().unwrap_or_default(), &table);
            if version >= 1 {
                dm.member_type = 1;
            }
            dm
        })
        .collect();
    d
}

/// Deletes a group with no active members and all its offsets (DeleteGroups).
pub async fn delete(coord: &Rc<Coordinator>, group: &str) -> Result<(), KafkaError> {
    let partition = partition_of(coord, group);
    serving(coord, partition)?;
    let entries = {
        let groups = coord.groups.borrow();
        let Some(g) = groups.get(group) else {
            return Err(KafkaError::GroupIdNotFound);
        };
        if !g.is_empty() {
            return Err(KafkaError::NonEmptyGroup);
        }
        let mut entries: Vec<(OffsetsKey, Option<bytes::Bytes>)> = g
            .offsets
            .keys()
            .map(|(t, p)| {
                (
                    OffsetsKey::Offset {
                        group: group.to_string(),
                        topic: t.clone(),
                        partition: *p,
                    },
                    None,
                )
            })
            .collect();
        entries.push((
            OffsetsKey::Group {
                group: group.to_string(),
            },
            None,
        ));
        entries
    };
    store::append(coord, partition, entries).await?;
    let mut groups = coord.groups.borrow_mut();
    if groups.get(group).is_some_and(|g| g.is_empty()) {
        groups.remove(group);
    }
    Ok(())
}
