//! `zkfleet provers …`: the operator's side of outside provers (docs/prover-api.md) — make a
//! key, register, list, suspend, resume, remove, the ledger per prover — and `zkfleet provers
//! serve`, the prover API itself.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use zkfleet_dal::{OutsideProverStatus, ProverRegistration};
use zkfleet_prover_api::keys::{parse_public_key, validate_prover_name};
use zkfleet_prover_api::{ProverApiConfig, ProverKey};

use crate::fleet::Fleet;
use crate::output::table;

#[derive(Subcommand, Debug)]
pub(crate) enum ProversCommand {
    /// Make a key file for an outside prover (JSON: name and Ed25519 secret key; keep it
    /// private) and print its public key, for `zkfleet provers add`.
    Keygen {
        /// The prover's name.
        name: String,
        /// Where to write the key file (refuses to overwrite).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Register an outside prover by its Ed25519 public key (64 hex digits).
    Add {
        name: String,
        #[arg(long, value_name = "HEX")]
        public_key: String,
    },
    /// Every registered outside prover.
    List,
    /// Suspend a prover: its sessions end, its open leases go back to the queue.
    Suspend {
        name: String,
        #[arg(long, default_value = "suspended by the operator")]
        reason: String,
    },
    /// Let a suspended prover lease again (its penalties count afresh from now).
    Resume {
        name: String,
        #[arg(long, default_value = "resumed by the operator")]
        reason: String,
    },
    /// Remove a prover (its open leases go back to the queue; its ledger stays).
    Remove { name: String },
    /// The ledger per prover: leased, accepted, refused (by reason), missed, proving time,
    /// earnings.
    Stats {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Serve the prover API (its own configuration file: the `[prover_api]` fields, see
    /// docs/prover-api.md), against the fleet's job database and object store.
    Serve {
        #[arg(long, value_name = "FILE")]
        api_config: Option<PathBuf>,
        /// Serve Prometheus metrics here.
        #[arg(long, value_name = "ADDR")]
        metrics_address: Option<std::net::SocketAddr>,
    },
}

pub(crate) async fn run(command: ProversCommand, fleet: &Fleet) -> anyhow::Result<()> {
    match command {
        ProversCommand::Keygen { name, out } => {
            validate_prover_name(&name).map_err(anyhow::Error::msg)?;
            let key = ProverKey::generate(&name);
            let text = serde_json::to_string_pretty(&key.to_key_file())?;
            write_private(&out, &text)?;
            out!("{}", key.public_key_hex());
            eprintln!(
                "key file {} written; register it with: zkfleet provers add {name} --public-key {}",
                out.display(),
                key.public_key_hex()
            );
        }
        ProversCommand::Add { name, public_key } => {
            validate_prover_name(&name).map_err(anyhow::Error::msg)?;
            let (_, normalised) = parse_public_key(&public_key)?;
            let dal = fleet.dal().await?;
            match dal.register_outside_prover(&name, &normalised).await? {
                ProverRegistration::Inserted => out!("outside prover {name} registered"),
                ProverRegistration::AlreadyPresent => {
                    out!("outside prover {name} was already registered with this key")
                }
            }
        }
        ProversCommand::List => {
            let dal = fleet.dal().await?;
            let mut t = table(["name", "status", "public key", "since", "reason"]);
            for p in dal.outside_provers().await? {
                t.add_row([
                    p.name,
                    p.status.as_str().to_owned(),
                    p.public_key,
                    p.status_changed_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    p.status_reason.unwrap_or_default(),
                ]);
            }
            out!("{t}");
        }
        ProversCommand::Suspend { name, reason } => {
            set_status(fleet, &name, OutsideProverStatus::Suspended, &reason).await?
        }
        ProversCommand::Resume { name, reason } => {
            set_status(fleet, &name, OutsideProverStatus::Active, &reason).await?
        }
        ProversCommand::Remove { name } => {
            let dal = fleet.dal().await?;
            match dal.remove_outside_prover(&name).await? {
                None => anyhow::bail!("no outside prover named {name}"),
                Some(released) => {
                    out!("outside prover {name} removed; {released} open leases given back")
                }
            }
        }
        ProversCommand::Stats { json } => {
            let dal = fleet.dal().await?;
            let stats = dal.outside_prover_stats().await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&stats)?);
                return Ok(());
            }
            let mut t = table([
                "prover",
                "status",
                "leased",
                "accepted",
                "refused",
                "missed",
                "active",
                "proving",
                "earnings",
                "refusals by reason",
            ]);
            for s in stats {
                t.add_row([
                    s.name,
                    s.status.map(|s| s.as_str()).unwrap_or("removed").to_owned(),
                    s.leased.to_string(),
                    s.accepted.to_string(),
                    s.refused.to_string(),
                    s.missed.to_string(),
                    s.active_leases.to_string(),
                    crate::output::duration(std::time::Duration::from_millis(s.proving_ms)),
                    s.earnings.to_string(),
                    s.refused_by_reason
                        .iter()
                        .map(|(r, n)| format!("{r}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ]);
            }
            out!("{t}");
        }
        ProversCommand::Serve {
            api_config,
            metrics_address,
        } => serve(fleet, api_config, metrics_address).await?,
    }
    Ok(())
}

async fn set_status(
    fleet: &Fleet,
    name: &str,
    status: OutsideProverStatus,
    reason: &str,
) -> anyhow::Result<()> {
    let dal = fleet.dal().await?;
    match dal.set_outside_prover_status(name, status, reason).await? {
        None => anyhow::bail!("no outside prover named {name}"),
        Some(released) => out!(
            "outside prover {name} is {}{}",
            status.as_str(),
            if released > 0 {
                format!("; {released} open leases given back")
            } else {
                String::new()
            }
        ),
    }
    Ok(())
}

fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating key file {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

async fn serve(
    fleet: &Fleet,
    api_config: Option<PathBuf>,
    metrics_address: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    let config: ProverApiConfig = match &api_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => ProverApiConfig::default(),
    };
    config.validate()?;
    if let Some(address) = metrics_address {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(address)
            .install()
            .with_context(|| format!("serving the prover API's metrics on {address}"))?;
    }
    let dal = fleet.dal().await?;
    let store = fleet.store()?;
    let (keys_dir, proving) = (config.keys_dir.clone(), config.proving);
    let circuits = tokio::task::spawn_blocking(move || {
        zkfleet_circuits::Keystore::open(&keys_dir)
            .and_then(|k| k.batch_circuits(&proving))
            .map(|loaded| Arc::new(loaded.circuits))
    })
    .await?
    .context("loading the circuits that verify submitted proofs")?;
    let state = zkfleet_prover_api::ApiState::new(dal, store, config, circuits).await?;
    let cancel = zkfleet_runner::CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        token.cancel();
    });
    #[cfg(unix)]
    {
        let token = cancel.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            if let Ok(mut term) = signal(SignalKind::terminate()) {
                term.recv().await;
                token.cancel();
            }
        });
    }
    zkfleet_prover_api::run(state, cancel).await?;
    Ok(())
}
