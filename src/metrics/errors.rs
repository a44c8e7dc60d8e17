//! Error codes carried by a response, for `runnel_request_errors_total`.
//!
//! Kafka reports most failures per partition, per topic or per group inside an otherwise
//! successful response. [`visit`] walks a response and calls back once for every non-zero error
//! code it holds (top-level and nested), so a Produce to three partitions that all fail counts
//! three errors. The walk is over the response's entries, never over records.

use kafka_protocol::messages::ResponseKind;

/// Calls `f` with every non-zero error code found in `body`.
pub fn visit(body: &ResponseKind, f: &mut impl FnMut(i16)) {
    let mut e = |code: i16| {
        if code != 0 {
            f(code)
        }
    };
    match body {
        ResponseKind::Produce(r) => r
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .for_each(|p| e(p.error_code)),
        ResponseKind::Fetch(r) => {
            e(r.error_code);
            r.responses
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| e(p.error_code));
        }
        ResponseKind::ListOffsets(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| e(p.error_code)),
        ResponseKind::Metadata(r) => {
            e(r.error_code);
            r.topics.iter().for_each(|t| e(t.error_code));
        }
        ResponseKind::OffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| e(p.error_code)),
        ResponseKind::OffsetFetch(r) => {
            e(r.error_code);
            r.topics
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| e(p.error_code));
            for g in &r.groups {
                e(g.error_code);
                g.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .for_each(|p| e(p.error_code));
            }
        }
        ResponseKind::TxnOffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| e(p.error_code)),
        ResponseKind::OffsetDelete(r) => {
            e(r.error_code);
            r.topics
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| e(p.error_code));
        }
        ResponseKind::CreateTopics(r) => r.topics.iter().for_each(|t| e(t.error_code)),
        ResponseKind::DeleteTopics(r) => r.responses.iter().for_each(|t| e(t.error_code)),
        ResponseKind::FindCoordinator(r) => {
            e(r.error_code);
            r.coordinators.iter().for_each(|c| e(c.error_code));
        }
        ResponseKind::DeleteGroups(r) => r.results.iter().for_each(|g| e(g.error_code)),
        ResponseKind::DescribeGroups(r) => r.groups.iter().for_each(|g| e(g.error_code)),
        ResponseKind::ConsumerGroupDescribe(r) => r.groups.iter().for_each(|g| e(g.error_code)),
        ResponseKind::AddPartitionsToTxn(r) => {
            e(r.error_code);
            let topics = r.results_by_topic_v3_and_below.iter().chain(
                r.results_by_transaction
                    .iter()
                    .flat_map(|t| &t.topic_results),
            );
            topics
                .flat_map(|t| &t.results_by_partition)
                .for_each(|p| e(p.partition_error_code));
        }
        ResponseKind::DescribeTransactions(r) => {
            r.transaction_states.iter().for_each(|t| e(t.error_code))
        }
        ResponseKind::DescribeProducers(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| e(p.error_code)),
        ResponseKind::LeaveGroup(r) => {
            e(r.error_code);
            r.members.iter().for_each(|m| e(m.error_code));
        }
        ResponseKind::JoinGroup(r) => e(r.error_code),
        ResponseKind::SyncGroup(r) => e(r.error_code),
        ResponseKind::Heartbeat(r) => e(r.error_code),
        ResponseKind::InitProducerId(r) => e(r.error_code),
        ResponseKind::EndTxn(r) => e(r.error_code),
        ResponseKind::AddOffsetsToTxn(r) => e(r.error_code),
        ResponseKind::ConsumerGroupHeartbeat(r) => e(r.error_code),
        ResponseKind::ApiVersions(r) => e(r.error_code),
        ResponseKind::ListGroups(r) => e(r.error_code),
        ResponseKind::ListTransactions(r) => e(r.error_code),
        ResponseKind::DescribeConfigs(r) => r.results.iter().for_each(|x| e(x.error_code)),
        ResponseKind::AlterConfigs(r) => r.responses.iter().for_each(|x| e(x.error_code)),
        ResponseKind::IncrementalAlterConfigs(r) => {
            r.responses.iter().for_each(|x| e(x.error_code))
        }
        ResponseKind::CreatePartitions(r) => r.results.iter().for_each(|x| e(x.error_code)),
        ResponseKind::DescribeCluster(r) => e(r.error_code),
        ResponseKind::DescribeLogDirs(r) => {
            e(r.error_code);
            r.results.iter().for_each(|d| e(d.error_code));
        }
        ResponseKind::DescribeTopicPartitions(r) => r.topics.iter().for_each(|t| e(t.error_code)),
        ResponseKind::ElectLeaders(r) => {
            e(r.error_code);
            r.replica_election_results
                .iter()
                .flat_map(|t| &t.partition_result)
                .for_each(|p| e(p.error_code));
        }
        ResponseKind::AlterPartitionReassignments(r) => {
            e(r.error_code);
            r.responses
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| e(p.error_code));
        }
        ResponseKind::AlterReplicaLogDirs(r) => r
            .results
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| e(p.error_code)),
        ResponseKind::DescribeAcls(r) => e(r.error_code),
        ResponseKind::CreateAcls(r) => r.results.iter().for_each(|x| e(x.error_code)),
        ResponseKind::DeleteAcls(r) => r.filter_results.iter().for_each(|x| e(x.error_code)),
        // APIs added later without an entry here are counted as requests, not as errors.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::messages::ProduceResponse;

    #[test]
    fn nested_codes_are_visited_and_zeros_skipped() {
        let mut r = ProduceResponse::default();
        let mut t = TopicProduceResponse::default();
        for code in [0, 3, 3, 10] {
            let mut p = PartitionProduceResponse::default();
            p.error_code = code;
            t.partition_responses.push(p);
        }
        r.responses.push(t);
        let mut seen = Vec::new();
        visit(&ResponseKind::Produce(r), &mut |c| seen.push(c));
        assert_eq!(seen, vec![3, 3, 10]);
    }
}
