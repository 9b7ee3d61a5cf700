//! `ledgerd` over TLS: clients that trust its CA are served, plaintext and untrusting clients are
//! not, and `ledgerctl` reaches it with `--tls-ca`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ledger_pgembed::testing::fresh_database;
use ledger_tests::client::Api;
use ledger_tests::ledgerctl;
use ledger_tests::ledgerd::{Ledgerd, LedgerdOptions, TlsFiles};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A throwaway CA and a certificate it signed for `localhost` and `127.0.0.1`, written to `dir`.
struct Pki {
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
    ca_pem: Vec<u8>,
}

fn pki(dir: &Path) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let files = Pki {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        ca: dir.join("ca.pem"),
        ca_pem: ca.pem().into_bytes(),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    std::fs::write(&files.ca, &files.ca_pem).unwrap();
    files
}

async fn health(channel: Channel) -> Result<ServingStatus, tonic::Status> {
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    Ok(reply.into_inner().status())
}

#[tokio::test(flavor = "multi_thread")]
async fn ledgerd_serves_tls_to_clients_that_trust_its_ca_and_to_ledgerctl() {
    let dir = std::env::temp_dir().join(format!("ledgerd-tls-{}", uuid::Uuid::new_v4()));
    let files = pki(&dir);
    let database = fresh_database().await.unwrap();
    let ledgerd = Ledgerd::start(&LedgerdOptions {
        database_url: Some(database.url().to_owned()),
        data_dir: dir.join("unused"),
        tls: Some(TlsFiles {
            cert: files.cert.clone(),
            key: files.key.clone(),
            ca_pem: files.ca_pem.clone(),
        }),
        ..Default::default()
    })
    .await;

    // A client trusting the CA is served, with credentials, like any other.
    assert_eq!(ledgerd.health().await, ServingStatus::Serving);
    let head = ledgerd.auditor().head().await;
    assert_eq!(head.position, 0);

    // Plaintext HTTP/2 to the TLS port gets no answer.
    let plaintext = Channel::from_shared(format!("http://{}", ledgerd.address))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await;
    if let Ok(channel) = plaintext {
        assert!(health(channel).await.is_err(), "plaintext was served");
    }

    // A client that trusts another CA refuses the server's certificate.
    let stranger = pki(&dir.join("stranger"));
    let untrusting = Channel::from_shared(format!("https://{}", ledgerd.address))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&stranger.ca_pem))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await;
    if let Ok(channel) = untrusting {
        assert!(
            health(channel).await.is_err(),
            "an untrusted server was used"
        );
    }

    // ledgerctl reaches it with --tls-ca, and refuses an https server without one.
    let token = ledgerd.token("auditor").to_owned();
    let ca = files.ca.to_str().unwrap();
    let head = ledgerctl::run(&ledgerd, &token, None, &["--tls-ca", ca, "consistency"]).await;
    assert!(head.success(), "{head:?}");
    let refused = ledgerctl::run(&ledgerd, &token, None, &["consistency"]).await;
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stderr.contains("--tls-ca"), "{refused:?}");

    assert!(ledgerd.terminate().success());
    let _ = std::fs::remove_dir_all(&dir);
}
