//! ACL bindings as the controller's metadata image keeps them
//! ([`AccessControlEntryRecord`], Kafka's record with wire codes) and as the authorizer reads
//! them ([`AclBinding`]), converted both ways.

use std::collections::BTreeMap;

use runnel_controller::records::AccessControlEntryRecord;
use uuid::Uuid;

use crate::security::acl::{AclBinding, Operation, PatternType, Permission, ResourceType};

/// The binding a record holds, `None` for codes the broker does not know (never admitted by
/// the controller, which checks their ranges).
pub fn binding_of(r: &AccessControlEntryRecord) -> Option<AclBinding> {
    Some(AclBinding {
        resource_type: ResourceType::from_code(r.resource_type)?,
        resource_name: r.resource_name.clone(),
        pattern_type: PatternType::from_code(r.pattern_type)?,
        principal: r.principal.clone(),
        host: r.host.clone(),
        operation: Operation::from_code(r.operation)?,
        permission: Permission::from_code(r.permission_type)?,
    })
}

/// The record that creates `b` under `id`.
pub fn record_of(id: Uuid, b: &AclBinding) -> AccessControlEntryRecord {
    AccessControlEntryRecord {
        id,
        resource_type: b.resource_type.code(),
        resource_name: b.resource_name.clone(),
        pattern_type: b.pattern_type.code(),
        principal: b.principal.clone(),
        host: b.host.clone(),
        operation: b.operation.code(),
        permission_type: b.permission.code(),
    }
}

/// Every binding of an image's ACLs, with its id.
pub fn bindings(acls: &BTreeMap<Uuid, AccessControlEntryRecord>) -> Vec<(Uuid, AclBinding)> {
    acls.iter()
        .filter_map(|(id, r)| Some((*id, binding_of(r)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_bindings_convert_both_ways() {
        let b = AclBinding {
            resource_type: ResourceType::TransactionalId,
            resource_name: "tx-".into(),
            pattern_type: PatternType::Prefixed,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: Operation::Write,
            permission: Permission::Deny,
        };
        let r = record_of(Uuid::from_u128(7), &b);
        assert_eq!(
            (
                r.resource_type,
                r.pattern_type,
                r.operation,
                r.permission_type
            ),
            (5, 4, 4, 2)
        );
        assert_eq!(binding_of(&r), Some(b));
        assert_eq!(
            binding_of(&AccessControlEntryRecord { operation: 99, ..r }),
            None
        );
    }
}
