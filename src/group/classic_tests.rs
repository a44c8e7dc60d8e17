//! Unit tests of the classic group state machine (joins, syncs, fencing).

use super::*;
use crate::group::session::{sync_classic, SyncOutcome};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::GroupId;
use kafka_protocol::messages::SyncGroupRequest;

fn settings() -> GroupSettings {
    GroupSettings {
        offsets_partitions: 1,
        offsets_replication_factor: 1,
        initial_rebalance_delay_ms: 0,
        min_session_timeout_ms: 6000,
        max_session_timeout_ms: 1_800_000,
        max_size: 100,
        offsets_retention_ms: 1000,
        offset_metadata_max_bytes: 4096,
        consumer_session_timeout_ms: 45000,
        consumer_heartbeat_interval_ms: 5000,
        consumer_min_session_timeout_ms: 45000,
        consumer_max_session_timeout_ms: 60000,
        consumer_min_heartbeat_interval_ms: 5000,
        consumer_max_heartbeat_interval_ms: 15000,
        consumer_assignors: vec!["uniform".into()],
    }
}

fn join_req(member: &str, instance: Option<&str>) -> JoinGroupRequest {
    let mut r = JoinGroupRequest::default();
    r.group_id = GroupId(StrBytes::from_static_str("g"));
    r.session_timeout_ms = 10000;
    r.rebalance_timeout_ms = 10000;
    r.member_id = StrBytes::from_string(member.to_string());
    r.group_instance_id = instance.map(|i| StrBytes::from_string(i.to_string()));
    r.protocol_type = StrBytes::from_static_str("consumer");
    let mut p = JoinGroupRequestProtocol::default();
    p.name = StrBytes::from_static_str("range");
    p.metadata = Bytes::from_static(b"meta");
    r.protocols = vec![p];
    r
}

fn join(c: &mut ClassicGroup, member: &str, instance: Option<&str>) -> JoinOutcome {
    let req = join_req(member, instance);
    let args = JoinArgs {
        req: &req,
        version: 5,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
    };
    join_classic(c, &settings(), args, &mut Effects::default())
}

fn now(o: JoinOutcome) -> JoinGroupResponse {
    match o {
        JoinOutcome::Now(r) => r,
        JoinOutcome::Wait(rx) => futures_lite::future::block_on(rx).expect("answered"),
    }
}

fn sync_req(member: &str, generation: i32) -> SyncGroupRequest {
    let mut r = SyncGroupRequest::default();
    r.group_id = GroupId(StrBytes::from_static_str("g"));
    r.member_id = StrBytes::from_string(member.to_string());
    r.generation_id = generation;
    r
}

#[test]
fn member_id_required_then_join_completes_and_fences_stale_generations() {
    let mut c = ClassicGroup::new();
    let first = now(join(&mut c, "", None));
    assert_eq!(first.error_code, KafkaError::MemberIdRequired.code());
    let id = first.member_id.to_string();
    assert!(!id.is_empty());
    let joined = now(join(&mut c, &id, None));
    assert_eq!(joined.error_code, crate::errors::NONE);
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.leader.as_str(), id);
    assert_eq!(joined.members.len(), 1, "the leader gets the member list");
    assert_eq!(c.state, ClassicState::CompletingRebalance);
    // Wrong generation, unknown member.
    let r = sync_classic(&mut c, &sync_req(&id, 0), &id);
    assert!(
        matches!(r, SyncOutcome::Now(ref x) if x.error_code == KafkaError::IllegalGeneration.code())
    );
    let r = sync_classic(&mut c, &sync_req("nobody", 1), "nobody");
    assert!(
        matches!(r, SyncOutcome::Now(ref x) if x.error_code == KafkaError::UnknownMemberId.code())
    );
    // The leader's sync is stored, then the group is stable.
    assert!(matches!(
        sync_classic(&mut c, &sync_req(&id, 1), &id),
        SyncOutcome::Store(1, _)
    ));
    // A second member joining starts a rebalance: syncs now get REBALANCE_IN_PROGRESS.
    c.transition(ClassicState::Stable);
    let second = now(join(&mut c, "", None));
    let id2 = second.member_id.to_string();
    let waiting = join(&mut c, &id2, None);
    assert!(matches!(waiting, JoinOutcome::Wait(_)));
    assert_eq!(c.state, ClassicState::PreparingRebalance);
    let r = sync_classic(&mut c, &sync_req(&id, 1), &id);
    assert!(
        matches!(r, SyncOutcome::Now(ref x) if x.error_code == KafkaError::RebalanceInProgress.code())
    );
    // The first member rejoins: generation 2 for both.
    let again = now(join(&mut c, &id, None));
    assert_eq!(again.generation_id, 2);
    assert_eq!(now(waiting).generation_id, 2);
}

#[test]
fn static_member_rejoin_keeps_generation_and_fences_the_old_id() {
    let mut c = ClassicGroup::new();
    let joined = now(join(&mut c, "", Some("inst")));
    assert_eq!(
        joined.error_code,
        crate::errors::NONE,
        "static members need no member id round"
    );
    let old = joined.member_id.to_string();
    c.transition(ClassicState::Stable);
    let back = now(join(&mut c, "", Some("inst")));
    assert_eq!(back.error_code, crate::errors::NONE);
    assert_eq!(
        back.generation_id, 1,
        "no rebalance for a returning static member"
    );
    assert_ne!(back.member_id.as_str(), old);
    assert_eq!(c.state, ClassicState::Stable);
    // The old incarnation is fenced.
    let mut req = sync_req(&old, 1);
    req.group_instance_id = Some(StrBytes::from_static_str("inst"));
    let r = sync_classic(&mut c, &req, &old);
    assert!(
        matches!(r, SyncOutcome::Now(ref x) if x.error_code == KafkaError::FencedInstanceId.code())
    );
    let stale = now(join(&mut c, &old, Some("inst")));
    assert_eq!(stale.error_code, KafkaError::FencedInstanceId.code());
    assert!(c.fenced(&old, Some("inst")));
}
