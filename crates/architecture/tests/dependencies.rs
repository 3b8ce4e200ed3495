//! The workspace as it is obeys the dependency rules (`zkfleet_architecture`), and
//! `docs/architecture.md` §2 names every crate.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::path::{Path, PathBuf};
use std::process::Command;

use zkfleet_architecture::{violations, workspace_packages, ROLES};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/architecture sits two levels below the workspace root")
        .to_owned()
}

fn metadata() -> String {
    let manifest = workspace_root().join("Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("cargo metadata prints UTF-8")
}

#[test]
fn no_component_depends_on_a_component() {
    let packages = workspace_packages(&metadata()).expect("cargo metadata's JSON");
    // The workspace really was read (a parse that found nothing would pass vacuously).
    assert!(
        packages.iter().any(|p| p.name == "zkfleet-cli"),
        "{packages:?}"
    );
    let broken = violations(&packages);
    assert!(
        broken.is_empty(),
        "the dependency rules are broken:\n{}",
        broken
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_architecture_page_names_every_crate() {
    let page = std::fs::read_to_string(workspace_root().join("docs/architecture.md"))
        .expect("docs/architecture.md");
    let start = page
        .find("## 2. Crates")
        .expect("§2 of docs/architecture.md");
    let end = page[start..]
        .find("\n## 3.")
        .map_or(page.len(), |i| start + i);
    let section = &page[start..end];
    let packages = workspace_packages(&metadata()).expect("cargo metadata's JSON");
    let mut missing = Vec::new();
    for package in &packages {
        let short = package.name.trim_start_matches("zkfleet-");
        if !section.contains(&format!("`{short}`")) {
            missing.push(short.to_owned());
        }
    }
    assert!(
        missing.is_empty(),
        "docs/architecture.md §2 does not name these crates: {missing:?}"
    );
    // Every role listed is a crate that exists (a removed crate leaves no stale rule).
    for (name, _) in ROLES {
        assert!(
            packages.iter().any(|p| p.name == *name),
            "zkfleet_architecture::ROLES names {name}, which is not in the workspace"
        );
    }
}
