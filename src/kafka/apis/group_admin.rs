//! Group administration: ListGroups (gathered from every core), DescribeGroups, DeleteGroups
//! and ConsumerGroupDescribe (each group asked of its coordinating core).

use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup as ConsumerDescribed;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, DeleteGroupsRequest,
    DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse, GroupId,
    ListGroupsRequest, ListGroupsResponse, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use super::groups::forward;
use crate::errors;
use crate::group::calls::{
    ConsumerDescribeCall, DeleteGroupCall, DescribeGroupCall, ListGroupsCall,
};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;

/// Handles ListGroups: every core's groups, filtered by state (v4+) and type (v5+).
pub async fn list(ctx: &RequestContext, req: ListGroupsRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let v = ctx.version;
    let calls: Vec<_> = (0..view.cores())
        .map(|c| mesh.call(c, ListGroupsCall))
        .collect();
    let mut all = Vec::new();
    for c in calls {
        if let Ok(l) = c.await {
            all.extend(l);
        }
    }
    let states: Vec<String> = req.states_filter.iter().map(|s| s.to_lowercase()).collect();
    let types: Vec<String> = req.types_filter.iter().map(|s| s.to_lowercase()).collect();
    all.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    let mut resp = ListGroupsResponse::default();
    // DESCRIBE on the cluster lists every group, else only those the principal may DESCRIBE.
    let authz = Authz::of(ctx);
    let every = authz.cluster(Operation::Describe).is_ok();
    resp.groups = all
        .into_iter()
        .filter(|g| every || authz.group(Operation::Describe, &g.group_id).is_ok())
        .filter(|g| v < 4 || states.is_empty() || states.contains(&g.state.to_lowercase()))
        .filter(|g| v < 5 || types.is_empty() || types.contains(&g.group_type.to_lowercase()))
        .map(|g| {
            let mut l = ListedGroup::default();
            l.group_id = GroupId(StrBytes::from_string(g.group_id));
            l.protocol_type = StrBytes::from_string(g.protocol_type);
            if v >= 4 {
                l.group_state = StrBytes::from_string(g.state);
            }
            if v >= 5 {
                l.group_type = StrBytes::from_string(g.group_type);
            }
            l
        })
        .collect();
    ResponseKind::ListGroups(resp)
}

/// Handles DescribeGroups.
pub async fn describe(ctx: &RequestContext, req: DescribeGroupsRequest) -> ResponseKind {
    let mut resp = DescribeGroupsResponse::default();
    let authz = Authz::of(ctx);
    for g in &req.groups {
        let name = g.0.to_string();
        if let Err(e) = authz.group(Operation::Describe, &name) {
            let mut d = DescribedGroup::default();
            d.group_id = g.clone();
            d.error_code = e.code();
            resp.groups.push(d);
            continue;
        }
        let call = DescribeGroupCall {
            group: name.clone(),
            version: ctx.version,
        };
        let d = match forward(&ctx.core.view, &ctx.core.mesh, &name, call).await {
            Ok(mut d) => {
                if ctx.version >= 3 && d.error_code == errors::NONE {
                    d.authorized_operations = super::authorized_ops::group(
                        &authz,
                        req.include_authorized_operations,
                        &name,
                    );
                }
                d
            }
            Err(e) => {
                let mut d = DescribedGroup::default();
                d.group_id = g.clone();
                d.error_code = e.code();
                d
            }
        };
        resp.groups.push(d);
    }
    ResponseKind::DescribeGroups(resp)
}

/// Handles DeleteGroups.
pub async fn delete(ctx: &RequestContext, req: DeleteGroupsRequest) -> ResponseKind {
    let mut resp = DeleteGroupsResponse::default();
    let authz = Authz::of(ctx);
    for g in &req.groups_names {
        let name = g.0.to_string();
        if let Err(e) = authz.group(Operation::Delete, &name) {
            let mut r = DeletableGroupResult::default();
            r.group_id = g.clone();
            r.error_code = e.code();
            resp.results.push(r);
            continue;
        }
        let deleted = forward(
            &ctx.core.view,
            &ctx.core.mesh,
            &name,
            DeleteGroupCall(name.clone()),
        )
        .await
        .and_then(|r| r);
        let mut r = DeletableGroupResult::default();
        r.group_id = g.clone();
        r.error_code = errors::result_code(&deleted);
        resp.results.push(r);
    }
    ResponseKind::DeleteGroups(resp)
}

/// Handles ConsumerGroupDescribe (KIP-848 groups).
pub async fn consumer_describe(
    ctx: &RequestContext,
    req: ConsumerGroupDescribeRequest,
) -> ResponseKind {
    let mut resp = ConsumerGroupDescribeResponse::default();
    let authz = Authz::of(ctx);
    for g in &req.group_ids {
        let name = g.0.to_string();
        if let Err(e) = authz.group(Operation::Describe, &name) {
            let mut d = ConsumerDescribed::default();
            d.group_id = g.clone();
            d.error_code = e.code();
            resp.groups.push(d);
            continue;
        }
        let call = ConsumerDescribeCall {
            group: name.clone(),
            version: ctx.version,
        };
        let d = match forward(&ctx.core.view, &ctx.core.mesh, &name, call).await {
            Ok(mut d) => {
                if d.error_code == errors::NONE {
                    d.authorized_operations = super::authorized_ops::group(
                        &authz,
                        req.include_authorized_operations,
                        &name,
                    );
                }
                d
            }
            Err(e) => {
                let mut d = ConsumerDescribed::default();
                d.group_id = g.clone();
                d.error_code = e.code();
                d
            }
        };
        resp.groups.push(d);
    }
    ResponseKind::ConsumerGroupDescribe(resp)
}
