//! The workspace's dependency rules, and their check against `cargo metadata`.
//!
//! Every crate of the workspace has a [`Role`] (`docs/architecture.md` §2):
//!
//! - a **library** is a room with one job that components share (types, rollup, circuits,
//!   blobs, dal, store, runner, ...);
//! - a **component** is one long-running part of the fleet (witness generator, circuit prover,
//!   compressor, job monitor, gateway, sequencer, prover API), built from libraries;
//! - an **entry point** (the `zkfleet` binary, the benchmarks) puts components together.
//!
//! The rules: components never depend on components (what two of them share moves into a
//! library — the blob formats into `blobs`, the service plumbing into `service`); libraries
//! never depend on components; only entry points may. They hold for every kind of dependency
//! (normal, dev, build): a test that needs another component belongs to an entry point's
//! tests. A crate without a role is itself a violation, so a new crate is placed (here and in
//! the docs) when it is added.
//!
//! The test `tests/dependencies.rs` runs `cargo metadata` and fails on any violation.

use std::collections::BTreeMap;

/// What a crate is, for the dependency rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Shared code: depends only on libraries.
    Library,
    /// A long-running process of the fleet: depends on libraries, never on another component.
    Component,
    /// A binary that assembles components (the CLI, the benchmarks): may depend on anything.
    EntryPoint,
}

/// Every workspace crate and its role. A crate missing here fails the check.
pub const ROLES: &[(&str, Role)] = &[
    ("zkfleet-types", Role::Library),
    ("zkfleet-rollup", Role::Library),
    ("zkfleet-circuits", Role::Library),
    ("zkfleet-gpu", Role::Library),
    ("zkfleet-blobs", Role::Library),
    ("zkfleet-dal", Role::Library),
    ("zkfleet-store", Role::Library),
    ("zkfleet-intake", Role::Library),
    ("zkfleet-runner", Role::Library),
    ("zkfleet-service", Role::Library),
    ("zkfleet-test-support", Role::Library),
    ("zkfleet-architecture", Role::Library),
    ("zkfleet-witness-generator", Role::Component),
    ("zkfleet-circuit-prover", Role::Component),
    ("zkfleet-compressor", Role::Component),
    ("zkfleet-job-monitor", Role::Component),
    ("zkfleet-gateway", Role::Component),
    ("zkfleet-sequencer", Role::Component),
    ("zkfleet-prover-api", Role::Component),
    ("zkfleet-cli", Role::EntryPoint),
    ("zkfleet-bench", Role::EntryPoint),
];

/// The role of a crate, if it has one.
pub fn role(name: &str) -> Option<Role> {
    ROLES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// A workspace crate and the workspace crates it depends on (any kind), by package name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The package name (`zkfleet-dal`).
    pub name: String,
    /// `(dependency, kind)`: kind is `normal`, `dev` or `build`.
    pub dependencies: Vec<(String, String)>,
}

/// A broken rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error(
        "crate {0} has no role: add it to zkfleet_architecture::ROLES and to the crate table \
         of docs/architecture.md §2"
    )]
    /// A workspace crate that [`ROLES`] does not place.
    Unplaced(String),
    #[error(
        "component {from} depends on component {to} ({kind}): move what they share into a library"
    )]
    /// A component depending on another component.
    ComponentOnComponent {
        /// The depending component.
        from: String,
        /// The component it depends on.
        to: String,
        /// `normal`, `dev` or `build`.
        kind: String,
    },
    #[error("library {from} depends on component {to} ({kind}): libraries sit below components")]
    /// A library depending on a component.
    LibraryOnComponent {
        /// The depending library.
        from: String,
        /// The component it depends on.
        to: String,
        /// `normal`, `dev` or `build`.
        kind: String,
    },
}

/// Why `cargo metadata`'s output could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cargo metadata output: {0}")]
pub struct MetadataError(String);

/// The workspace's crates and their dependencies on each other, from the JSON of
/// `cargo metadata --format-version 1 --no-deps`.
pub fn workspace_packages(metadata: &str) -> Result<Vec<Package>, MetadataError> {
    let json: serde_json::Value =
        serde_json::from_str(metadata).map_err(|e| MetadataError(e.to_string()))?;
    let packages = json["packages"]
        .as_array()
        .ok_or_else(|| MetadataError("no `packages` array".into()))?;
    let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut out = Vec::new();
    for package in packages {
        let name = package["name"]
            .as_str()
            .ok_or_else(|| MetadataError("a package without a name".into()))?;
        let mut dependencies = Vec::new();
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let Some(dep_name) = dep["name"].as_str() else {
                return Err(MetadataError(format!(
                    "{name}: a dependency without a name"
                )));
            };
            // Only edges inside the workspace matter (path dependencies on its crates).
            if names.contains(&dep_name) {
                let kind = dep["kind"].as_str().unwrap_or("normal").to_owned();
                dependencies.push((dep_name.to_owned(), kind));
            }
        }
        out.push(Package {
            name: name.to_owned(),
            dependencies,
        });
    }
    Ok(out)
}

/// Every broken rule among `packages`.
pub fn violations(packages: &[Package]) -> Vec<Violation> {
    let roles: BTreeMap<&str, Option<Role>> = packages
        .iter()
        .map(|p| (p.name.as_str(), role(&p.name)))
        .collect();
    let mut found = Vec::new();
    for package in packages {
        let Some(from_role) = roles[package.name.as_str()] else {
            found.push(Violation::Unplaced(package.name.clone()));
            continue;
        };
        for (dep, kind) in &package.dependencies {
            if roles.get(dep.as_str()).copied().flatten() != Some(Role::Component) {
                continue;
            }
            let (from, to, kind) = (package.name.clone(), dep.clone(), kind.clone());
            match from_role {
                Role::Component => found.push(Violation::ComponentOnComponent { from, to, kind }),
                Role::Library => found.push(Violation::LibraryOnComponent { from, to, kind }),
                Role::EntryPoint => {}
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, deps: &[(&str, &str)]) -> Package {
        Package {
            name: name.into(),
            dependencies: deps
                .iter()
                .map(|(d, k)| ((*d).to_owned(), (*k).to_owned()))
                .collect(),
        }
    }

    fn layered() -> Vec<Package> {
        vec![
            package("zkfleet-types", &[]),
            package("zkfleet-blobs", &[("zkfleet-types", "normal")]),
            package("zkfleet-compressor", &[("zkfleet-blobs", "normal")]),
            package("zkfleet-witness-generator", &[("zkfleet-blobs", "normal")]),
            package(
                "zkfleet-cli",
                &[
                    ("zkfleet-compressor", "normal"),
                    ("zkfleet-witness-generator", "dev"),
                ],
            ),
        ]
    }

    #[test]
    fn entry_points_may_depend_on_components() {
        assert_eq!(violations(&layered()), []);
    }

    #[test]
    fn a_component_on_a_component_is_refused_whatever_the_kind() {
        for kind in ["normal", "dev", "build"] {
            let mut packages = layered();
            packages[2]
                .dependencies
                .push(("zkfleet-witness-generator".into(), kind.into()));
            assert_eq!(
                violations(&packages),
                [Violation::ComponentOnComponent {
                    from: "zkfleet-compressor".into(),
                    to: "zkfleet-witness-generator".into(),
                    kind: kind.into(),
                }]
            );
        }
    }

    #[test]
    fn a_library_on_a_component_is_refused() {
        let mut packages = layered();
        packages[1]
            .dependencies
            .push(("zkfleet-compressor".into(), "normal".into()));
        assert!(matches!(
            violations(&packages)[..],
            [Violation::LibraryOnComponent { .. }]
        ));
    }

    #[test]
    fn a_crate_without_a_role_is_refused() {
        let mut packages = layered();
        packages.push(package("zkfleet-new-room", &[]));
        assert_eq!(
            violations(&packages),
            [Violation::Unplaced("zkfleet-new-room".into())]
        );
    }

    #[test]
    fn metadata_edges_outside_the_workspace_are_ignored() {
        let metadata = r#"{"packages": [
            {"name": "zkfleet-compressor", "dependencies": [
                {"name": "tokio", "kind": null},
                {"name": "zkfleet-gateway", "kind": "dev"}]},
            {"name": "zkfleet-gateway", "dependencies": []}
        ]}"#;
        let packages = workspace_packages(metadata).unwrap();
        assert_eq!(
            packages[0].dependencies,
            [("zkfleet-gateway".to_owned(), "dev".to_owned())]
        );
        assert_eq!(violations(&packages).len(), 1);
    }
}
