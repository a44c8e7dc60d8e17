//! Access control lists with Kafka's `StandardAuthorizer` semantics, as pure code: the model
//! (resource and pattern types, operations, permissions, bindings and filters, with Kafka's
//! wire codes) and the authorizer that decides a request over an index of bindings. Where the
//! bindings come from (the controller's metadata image) and which operation each API checks
//! are the broker's business (src/shard/acl_view.rs, src/kafka/apis/authz.rs).

pub mod authorizer;
pub mod model;

pub use authorizer::{Authorizer, AuthorizerSettings};
pub use model::{AclBinding, AclFilter, Operation, PatternType, Permission, ResourceType};
