//! CreateAcls, DescribeAcls and DeleteAcls (Kafka's `AclApis`): SECURITY_DISABLED without an
//! authorizer; CLUSTER_AUTHORIZATION_FAILED without ALTER (create, delete) or DESCRIBE
//! (describe) on the cluster; INVALID_REQUEST for a binding Kafka refuses (an ANY or MATCH
//! value, an empty name, a cluster resource not named `kafka-cluster`, a principal that is not
//! `Type:name`). Creations and deletions go to core 0 as records for the controller quorum
//! (src/shard/acl_admin.rs); DescribeAcls reads this core's image.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use crate::cluster::acls::bindings;
use crate::errors::{ErrorMessage, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::model::validate;
use crate::security::acl::{
    AclBinding, AclFilter, Operation, PatternType, Permission, ResourceType,
};
use crate::shard::acl_admin::{CreateAclsCall, DeleteAclsCall};

const NO_AUTHORIZER: &str = "No Authorizer is configured.";

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Why the request as a whole is refused: no authorizer, or `op` not allowed on the cluster.
fn refused(ctx: &RequestContext, op: Operation) -> Option<ErrorMessage> {
    let authz = Authz::of(ctx);
    if !authz.enabled() {
        return Some(ErrorMessage::new(
            KafkaError::SecurityDisabled,
            NO_AUTHORIZER,
        ));
    }
    authz
        .cluster(op)
        .err()
        .map(|e| ErrorMessage::new(e, "Cluster authorization failed."))
}

fn binding_of(c: &AclCreation) -> Result<AclBinding, String> {
    let b = AclBinding {
        resource_type: ResourceType::from_code(c.resource_type)
            .ok_or_else(|| format!("Unknown resourceType {}", c.resource_type))?,
        resource_name: c.resource_name.to_string(),
        pattern_type: PatternType::from_code(c.resource_pattern_type)
            .ok_or_else(|| format!("Unknown patternType {}", c.resource_pattern_type))?,
        principal: c.principal.to_string(),
        host: c.host.to_string(),
        operation: Operation::from_code(c.operation)
            .ok_or_else(|| format!("Unknown operation {}", c.operation))?,
        permission: Permission::from_code(c.permission_type)
            .ok_or_else(|| format!("Unknown permissionType {}", c.permission_type))?,
    };
    validate(&b)?;
    Ok(b)
}

/// A filter from its request fields, or INVALID_REQUEST's message for unknown codes.
#[allow(clippy::too_many_arguments)]
fn filter_of(
    resource_type: i8,
    name: &Option<StrBytes>,
    pattern_type: i8,
    principal: &Option<StrBytes>,
    host: &Option<StrBytes>,
    operation: i8,
    permission: i8,
) -> Result<AclFilter, String> {
    Ok(AclFilter {
        resource_type: ResourceType::from_code(resource_type)
            .ok_or_else(|| format!("Unknown resourceType {resource_type}"))?,
        resource_name: name.as_ref().map(|n| n.to_string()),
        pattern_type: PatternType::from_code(pattern_type)
            .ok_or_else(|| format!("Unknown patternFilter {pattern_type}"))?,
        principal: principal.as_ref().map(|n| n.to_string()),
        host: host.as_ref().map(|n| n.to_string()),
        operation: Operation::from_code(operation)
            .ok_or_else(|| format!("Unknown operation {operation}"))?,
        permission: Permission::from_code(permission)
            .ok_or_else(|| format!("Unknown permissionType {permission}"))?,
    })
}

/// Handles CreateAcls.
pub async fn create(ctx: &RequestContext, req: CreateAclsRequest) -> ResponseKind {
    let mut resp = CreateAclsResponse::default();
    let fail = |e: &ErrorMessage| {
        let mut r = AclCreationResult::default();
        r.error_code = e.error.code();
        r.error_message = Some(s(&e.message));
        r
    };
    if let Some(e) = refused(ctx, Operation::Alter) {
        resp.results = req.creations.iter().map(|_| fail(&e)).collect();
        return ResponseKind::CreateAcls(resp);
    }
    let parsed: Vec<Result<AclBinding, String>> = req.creations.iter().map(binding_of).collect();
    let valid: Vec<AclBinding> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let outcome = if valid.is_empty() {
        Ok(())
    } else {
        match ctx.core.mesh.call(0, CreateAclsCall(valid)).await {
            Ok(r) => r,
            Err(_) => Err(ErrorMessage::new(
                KafkaError::NotController,
                "core 0 is unavailable",
            )),
        }
    };
    for p in parsed {
        resp.results.push(match (p, &outcome) {
            (Err(why), _) => fail(&ErrorMessage::new(KafkaError::InvalidRequest, why)),
            (Ok(_), Err(e)) => fail(e),
            (Ok(_), Ok(())) => AclCreationResult::default(),
        });
    }
    ResponseKind::CreateAcls(resp)
}

/// Handles DescribeAcls: the bindings of this core's image that the filter matches, grouped
/// by resource pattern.
pub fn describe(ctx: &RequestContext, req: DescribeAclsRequest) -> ResponseKind {
    let mut resp = DescribeAclsResponse::default();
    if let Some(e) = refused(ctx, Operation::Describe) {
        resp.error_code = e.error.code();
        resp.error_message = Some(s(&e.message));
        return ResponseKind::DescribeAcls(resp);
    }
    let filter = match filter_of(
        req.resource_type_filter,
        &req.resource_name_filter,
        req.pattern_type_filter,
        &req.principal_filter,
        &req.host_filter,
        req.operation,
        req.permission_type,
    ) {
        Ok(f) => f,
        Err(why) => {
            resp.error_code = KafkaError::InvalidRequest.code();
            resp.error_message = Some(s(&why));
            return ResponseKind::DescribeAcls(resp);
        }
    };
    let state = ctx.core.cluster.state();
    let mut by_resource: BTreeMap<(ResourceType, String, PatternType), Vec<AclDescription>> =
        BTreeMap::new();
    for (_, b) in bindings(state.image.acls()) {
        if !filter.matches(&b) {
            continue;
        }
        let mut d = AclDescription::default();
        d.principal = s(&b.principal);
        d.host = s(&b.host);
        d.operation = b.operation.code();
        d.permission_type = b.permission.code();
        by_resource
            .entry((b.resource_type, b.resource_name, b.pattern_type))
            .or_default()
            .push(d);
    }
    for ((rt, name, pt), acls) in by_resource {
        let mut r = DescribeAclsResource::default();
        r.resource_type = rt.code();
        r.resource_name = s(&name);
        r.pattern_type = pt.code();
        r.acls = acls;
        resp.resources.push(r);
    }
    ResponseKind::DescribeAcls(resp)
}

/// Handles DeleteAcls: per filter, the bindings it matched and deleted.
pub async fn delete(ctx: &RequestContext, req: DeleteAclsRequest) -> ResponseKind {
    let mut resp = DeleteAclsResponse::default();
    let fail = |e: &ErrorMessage| {
        let mut r = DeleteAclsFilterResult::default();
        r.error_code = e.error.code();
        r.error_message = Some(s(&e.message));
        r
    };
    if let Some(e) = refused(ctx, Operation::Alter) {
        resp.filter_results = req.filters.iter().map(|_| fail(&e)).collect();
        return ResponseKind::DeleteAcls(resp);
    }
    let parsed: Vec<Result<AclFilter, String>> = req
        .filters
        .iter()
        .map(|f| {
            filter_of(
                f.resource_type_filter,
                &f.resource_name_filter,
                f.pattern_type_filter,
                &f.principal_filter,
                &f.host_filter,
                f.operation,
                f.permission_type,
            )
        })
        .collect();
    let valid: Vec<AclFilter> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let outcome = if valid.is_empty() {
        Ok(Vec::new())
    } else {
        match ctx.core.mesh.call(0, DeleteAclsCall(valid)).await {
            Ok(r) => r,
            Err(_) => Err(ErrorMessage::new(
                KafkaError::NotController,
                "core 0 is unavailable",
            )),
        }
    };
    let mut matched = match &outcome {
        Ok(m) => m.clone().into_iter(),
        Err(_) => Vec::new().into_iter(),
    };
    for p in parsed {
        resp.filter_results.push(match (p, &outcome) {
            (Err(why), _) => fail(&ErrorMessage::new(KafkaError::InvalidRequest, why)),
            (Ok(_), Err(e)) => fail(e),
            (Ok(_), Ok(_)) => {
                let mut r = DeleteAclsFilterResult::default();
                for b in matched.next().unwrap_or_default() {
                    let mut m = DeleteAclsMatchingAcl::default();
                    m.resource_type = b.resource_type.code();
                    m.resource_name = s(&b.resource_name);
                    m.pattern_type = b.pattern_type.code();
                    m.principal = s(&b.principal);
                    m.host = s(&b.host);
                    m.operation = b.operation.code();
                    m.permission_type = b.permission.code();
                    r.matching_acls.push(m);
                }
                r
            }
        });
    }
    ResponseKind::DeleteAcls(resp)
}
