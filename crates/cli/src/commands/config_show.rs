//! `zkfleet config show`: the effective configuration (defaults, file, environment, flags) as
//! TOML, with the database URL resolved and redacted, and where each secret comes from.

use clap::Subcommand;
use serde::Serialize;

use crate::config::FleetConfig;
use crate::fleet::Fleet;
use crate::GlobalArgs;

#[derive(Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print the effective configuration, secrets redacted.
    Show,
}

/// What `config show` prints: the configuration as loaded, the store actually used and the
/// resolved secrets' redacted forms.
#[derive(Serialize)]
struct Effective<'a> {
    #[serde(flatten)]
    config: &'a FleetConfig,
    resolved: Resolved,
}

#[derive(Serialize)]
struct Resolved {
    /// The database URL without its password.
    database_url: String,
    database_url_source: String,
    store: String,
}

pub(crate) fn run(command: ConfigCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let ConfigCommand::Show = command;
    let fleet = Fleet::load(global)?;
    let effective = Effective {
        config: &fleet.config,
        resolved: Resolved {
            database_url: fleet.database_url.redacted(),
            database_url_source: fleet.database_url.source.to_string(),
            store: crate::fleet::describe_store(&fleet.store_config()),
        },
    };
    out_str!("{}", toml::to_string(&effective)?);
    Ok(())
}
