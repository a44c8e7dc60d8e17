//! The one helper every API's ACL checks go through ([`Authz`]): the request's principal and
//! client host against this core's authorizer (`ClusterView::authorizer`, over the ACLs of
//! the controller's image), or everything allowed when no authorizer is configured
//! (`authorizer.class.name` empty), as on Kafka. Which operation on which resource each API
//! checks follows Kafka's `KafkaApis`; the handlers call [`Authz::topic`], [`Authz::group`],
//! [`Authz::cluster`] and [`Authz::txn_id`] and answer the denial with the error returned.

use std::rc::Rc;

use crate::errors::KafkaError;
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::model::CLUSTER_NAME;
use crate::security::acl::{Authorizer, Operation, ResourceType};
use crate::security::principal::KafkaPrincipal;
use crate::services::Core;

/// One request's authorization (see the module comment).
pub struct Authz {
    /// `None`: no authorizer, everything is allowed.
    inner: Option<(Rc<Authorizer>, String, String)>,
}

impl Authz {
    /// The checks of the request of `ctx`.
    pub fn of(ctx: &RequestContext) -> Authz {
        Authz::new(&ctx.core, &ctx.principal, &ctx.client_host)
    }

    /// The checks of a request from `principal` at `host` (`/a.b.c.d` or `a.b.c.d`) served by
    /// `core`.
    pub fn new(core: &Core, principal: &KafkaPrincipal, host: &str) -> Authz {
        let config = core.view.config();
        let inner = config.authorizer.as_ref().map(|settings| {
            (
                core.cluster.authorizer(settings),
                principal.to_string(),
                host.trim_start_matches('/').to_string(),
            )
        });
        Authz { inner }
    }

    /// Everything allowed (no authorizer).
    pub fn open() -> Authz {
        Authz { inner: None }
    }

    /// Checks with `authorizer` for `principal` at `host` (an IP address).
    pub fn with(authorizer: Rc<Authorizer>, principal: &str, host: &str) -> Authz {
        Authz {
            inner: Some((authorizer, principal.to_string(), host.to_string())),
        }
    }

    /// Whether an authorizer is configured.
    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Whether `op` on resource `name` of type `rt` is allowed.
    pub fn allowed(&self, op: Operation, rt: ResourceType, name: &str) -> bool {
        match &self.inner {
            None => true,
            Some((a, principal, host)) => a.authorize(principal, host, op, rt, name),
        }
    }

    /// Whether `op` is allowed on at least one resource of type `rt` (Kafka's
    /// `authorizeByResourceType`).
    pub fn allowed_any(&self, op: Operation, rt: ResourceType) -> bool {
        match &self.inner {
            None => true,
            Some((a, principal, host)) => a.authorize_any(principal, host, op, rt),
        }
    }

    fn check(
        &self,
        op: Operation,
        rt: ResourceType,
        name: &str,
        denied: KafkaError,
    ) -> Result<(), KafkaError> {
        if self.allowed(op, rt, name) {
            Ok(())
        } else {
            Err(denied)
        }
    }

    /// `op` on topic `name`, or TOPIC_AUTHORIZATION_FAILED.
    pub fn topic(&self, op: Operation, name: &str) -> Result<(), KafkaError> {
        self.check(
            op,
            ResourceType::Topic,
            name,
            KafkaError::TopicAuthorizationFailed,
        )
    }

    /// `op` on group `id`, or GROUP_AUTHORIZATION_FAILED.
    pub fn group(&self, op: Operation, id: &str) -> Result<(), KafkaError> {
        self.check(
            op,
            ResourceType::Group,
            id,
            KafkaError::GroupAuthorizationFailed,
        )
    }

    /// `op` on the cluster, or CLUSTER_AUTHORIZATION_FAILED.
    pub fn cluster(&self, op: Operation) -> Result<(), KafkaError> {
        self.check(
            op,
            ResourceType::Cluster,
            CLUSTER_NAME,
            KafkaError::ClusterAuthorizationFailed,
        )
    }

    /// `op` on transactional id `id`, or TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
    pub fn txn_id(&self, op: Operation, id: &str) -> Result<(), KafkaError> {
        self.check(
            op,
            ResourceType::TransactionalId,
            id,
            KafkaError::TransactionalIdAuthorizationFailed,
        )
    }

    /// The KIP-430 bitfield of `ops` allowed on resource `name` of type `rt`.
    pub fn operations(&self, rt: ResourceType, name: &str, ops: &[Operation]) -> i32 {
        ops.iter()
            .filter(|op| self.allowed(**op, rt, name))
            .fold(0, |acc, op| acc | (1 << op.code()))
    }
}
