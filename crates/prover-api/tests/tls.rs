//! HTTPS in the API's own process (`[tls]`), with a self-signed certificate made here (rcgen):
//! a prover that trusts the certificate logs in and leases over TLS; one that does not, and a
//! plain-HTTP request to the TLS port, get nowhere; unreadable certificate or key files are
//! clear errors naming the file.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::path::Path;

use common::{circuits_async, local_store, protocol_version, TestDb, PROVING, VERSION};
use tokio_util::sync::CancellationToken;
use zkfleet_prover_api::wire::Capabilities;
use zkfleet_prover_api::{
    ApiClient, ApiState, ClientError, ProverApiConfig, ProverKey, TlsError, TlsFiles,
};

/// A self-signed certificate for 127.0.0.1 and localhost: (certificate PEM, files).
fn self_signed(dir: &Path) -> (String, TlsFiles) {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("a self-signed certificate");
    let files = TlsFiles {
        cert_file: dir.join("api.crt"),
        key_file: dir.join("api.key"),
    };
    std::fs::write(&files.cert_file, cert.pem()).unwrap();
    std::fs::write(&files.key_file, key_pair.serialize_pem()).unwrap();
    (cert.pem(), files)
}

async fn https_api(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (cert_pem, files) = self_signed(dir.path());
    let store = local_store();
    db.dal
        .insert_protocol_version(&protocol_version().await)
        .await
        .unwrap();
    // The configuration names the files (JSON here; the API reads its TOML file the same way).
    let config: ProverApiConfig = serde_json::from_value(serde_json::json!({
        "tls": {"cert_file": files.cert_file, "key_file": files.key_file},
    }))
    .expect("[tls] parses");
    assert_eq!(config.tls.as_ref(), Some(&files));
    let config = ProverApiConfig {
        protocol_version: VERSION,
        proving: PROVING,
        keys_dir: common::keys_dir(),
        ..config
    };
    let acceptor = config.tls.as_ref().unwrap().acceptor().expect("acceptor");
    let state = ApiState::new(
        db.dal.clone(),
        store.store.clone(),
        config,
        circuits_async().await,
    )
    .await
    .expect("start the API");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cancel = CancellationToken::new();
    let server = tokio::spawn(zkfleet_prover_api::serve_tls(
        state,
        listener,
        acceptor,
        cancel.clone(),
    ));

    let key = ProverKey::generate("alice");
    db.dal
        .register_outside_prover("alice", &key.public_key_hex())
        .await
        .unwrap();
    let copy = || ProverKey::from_key_file(&key.to_key_file()).unwrap();
    let https = format!("https://127.0.0.1:{port}");
    // Trusting the certificate: info, login and a lease over TLS.
    let mut trusting =
        ApiClient::with_root_certificates(&https, copy(), Some(cert_pem.as_bytes())).unwrap();
    let info = trusting.info().await.expect("info over https");
    assert_eq!(info.protocol_version, VERSION);
    trusting.login().await.expect("login over https");
    let answer = trusting
        .lease(&Capabilities::default())
        .await
        .expect("lease over https");
    assert!(answer.lease.is_none(), "no job is queued");
    // By name too (the certificate names localhost).
    let by_name = ApiClient::with_root_certificates(
        &format!("https://localhost:{port}"),
        copy(),
        Some(cert_pem.as_bytes()),
    )
    .unwrap();
    if let Err(e) = by_name.info().await {
        // Only a host without a loopback name may fail here, never on the certificate.
        assert!(!format!("{e:?}").contains("certificate"), "{e:?}");
    }

    // Not trusting it (system roots only): refused during the handshake.
    let wary = ApiClient::new(&https, copy()).unwrap();
    match wary.info().await {
        Err(ClientError::Http(e)) => {
            let chain = format!("{e:?}");
            assert!(
                chain.contains("UnknownIssuer") || chain.contains("certificate"),
                "{chain}"
            );
        }
        other => panic!("an untrusted certificate was accepted: {other:?}"),
    }
    // Plain HTTP to the TLS port: no answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(
        plain.is_err() || !plain.as_ref().unwrap().status().is_success(),
        "{plain:?}"
    );
    // The server is still serving after the bad clients.
    assert!(trusting.info().await.is_ok());

    cancel.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_self_signed_certificate() {
    common::with_db(
        common::Backend::Sqlite,
        |db| async move { https_api(&db).await },
    )
    .await;
}

#[test]
fn unreadable_tls_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_, files) = self_signed(dir.path());
    let missing_key = TlsFiles {
        key_file: dir.path().join("nowhere.key"),
        ..files.clone()
    };
    let err = missing_key.acceptor().err().expect("no key file");
    assert!(matches!(err, TlsError::Key { .. }), "{err}");
    assert!(err.to_string().contains("nowhere.key"), "{err}");

    let empty = dir.path().join("empty.crt");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let no_cert = TlsFiles {
        cert_file: empty,
        ..files.clone()
    };
    let err = no_cert.acceptor().err().expect("no certificate");
    assert!(err.to_string().contains("empty.crt"), "{err}");

    // A key that is not the certificate's.
    let other = rcgen::KeyPair::generate().unwrap();
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, other.serialize_pem()).unwrap();
    let mismatched = TlsFiles {
        key_file: other_key,
        ..files
    };
    let err = mismatched
        .acceptor()
        .err()
        .expect("a key of another certificate");
    assert!(matches!(err, TlsError::Config { .. }), "{err}");
}
