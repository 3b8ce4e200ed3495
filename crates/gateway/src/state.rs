//! [`GatewayState`]: what every handler and the pull loop share.

use std::sync::Arc;

use zkfleet_dal::Dal;
use zkfleet_store::Store;
use zkfleet_types::{ProtocolSemanticVersion, ProtocolVersion};

use crate::config::GatewayConfig;
use zkfleet_service::TokenAuth;

/// The gateway's handles and limits. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GatewayState {
    pub(crate) dal: Dal,
    pub(crate) store: Store,
    pub(crate) auth: TokenAuth,
    pub(crate) protocol_versions: Arc<[ProtocolVersion]>,
    pub(crate) max_request_body_bytes: usize,
    pub(crate) max_witness_input_bytes: usize,
}

impl GatewayState {
    /// The state for `config` (validate the configuration first: [`GatewayConfig::validate`]).
    pub fn new(dal: Dal, store: Store, config: &GatewayConfig, auth: TokenAuth) -> Self {
        Self {
            dal,
            store,
            auth,
            protocol_versions: config.protocol_versions.clone().into(),
            max_request_body_bytes: config.max_request_body_bytes,
            max_witness_input_bytes: config.max_witness_input_bytes,
        }
    }

    /// The fleet's keys for `version`, if it can prove it.
    pub(crate) fn fleet_version(
        &self,
        version: ProtocolSemanticVersion,
    ) -> Option<&ProtocolVersion> {
        self.protocol_versions.iter().find(|v| v.version == version)
    }

    /// The bearer tokens push mode's requests are checked against.
    pub fn auth(&self) -> &TokenAuth {
        &self.auth
    }

    /// The job database batches are inserted into and proofs looked up in.
    pub fn dal(&self) -> &Dal {
        &self.dal
    }

    /// The object store witness inputs are written to and final proofs read from.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
