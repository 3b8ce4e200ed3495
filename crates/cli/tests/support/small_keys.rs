//! The small test keystore every end-to-end CLI test shares (1 operation, 2 signatures, 2
//! deposits per instance, XMSS height 2; arity 2; light compression).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::V1 as VERSION;

/// The keystore of the small circuits, shared with the other crates' tests, generated once per
/// test binary by `zkfleet keys generate` (builds are deterministic: rewriting the shared files
/// gives the same bytes).
pub fn keys_dir() -> &'static Path {
    static KEYS: OnceLock<PathBuf> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-keys-small-light");
        let config = dir.with_extension("toml");
        std::fs::create_dir_all(&dir).expect("keys dir");
        std::fs::write(&config, proving_section(&dir)).expect("keys config");
        let output = Command::new(env!("CARGO_BIN_EXE_zkfleet"))
            .args([
                "--config",
                config.to_str().expect("utf-8"),
                "keys",
                "generate",
            ])
            .env_remove("ZKFLEET_CONFIG")
            .output()
            .expect("run zkfleet keys generate");
        assert!(
            output.status.success(),
            "keys generate failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        dir
    })
}

pub fn proving_section(keys: &Path) -> String {
    format!(
        r#"
[proving]
protocol_version = "{VERSION}"
keys_dir = "{}"
arity = 2
compression = "light"

[proving.geometry]
signatures_per_instance = 2
operations_per_instance = 1
deposits_per_instance = 2
xmss_height = 2
"#,
        keys.display()
    )
}
