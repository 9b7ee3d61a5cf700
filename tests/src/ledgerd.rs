//! Runs the real `ledgerd` binary as a child process.
//!
//! Tests that use it run on tokio's multi-threaded runtime, as real clients do.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The `ledgerd` binary of this build, built first if needed (cargo builds a package's binaries
/// only for that package's own tests, and these tests live in another package).
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary knows its path");
        // target/<profile>/deps/blackbox-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binaries live in target/<profile>/deps");
        let release = profile_dir
            .file_name()
            .is_some_and(|name| name == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "-p", "ledger-api", "--bin", "ledgerd"]);
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building ledgerd failed");
        profile_dir.join("ledgerd")
    })
}

/// A free loopback port (bound, read and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// A running `ledgerd` child process.
pub struct Ledgerd {
    child: Child,
    /// Where it serves gRPC.
    pub address: SocketAddr,
}

/// How to start `ledgerd`.
pub struct LedgerdOptions {
    /// `DATABASE_URL`; `None` lets ledgerd start its embedded PostgreSQL.
    pub database_url: Option<String>,
    /// `--data-dir` for the embedded PostgreSQL.
    pub data_dir: PathBuf,
}

impl Ledgerd {
    /// Starts `ledgerd serve` and waits until its health service answers SERVING.
    pub async fn start(options: &LedgerdOptions) -> Ledgerd {
        let address: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .arg("--listen")
            .arg(address.to_string())
            .arg("--data-dir")
            .arg(&options.data_dir)
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null());
        if let Some(url) = &options.database_url {
            command.env("DATABASE_URL", url);
        }
        let child = command.spawn().expect("ledgerd starts");
        let mut ledgerd = Ledgerd { child, address };
        ledgerd.wait_until_serving(Duration::from_secs(60)).await;
        ledgerd
    }

    /// A gRPC channel to it, with bounded connect and call times so a test cannot hang.
    pub async fn channel(&self) -> Channel {
        self.endpoint()
            .connect()
            .await
            .expect("ledgerd accepts connections")
    }

    fn endpoint(&self) -> Endpoint {
        Channel::from_shared(format!("http://{}", self.address))
            .expect("a valid URI")
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
    }

    /// The overall health status it reports.
    pub async fn health(&self) -> ServingStatus {
        let mut client = HealthClient::new(self.channel().await);
        let response = client
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("the health service answers");
        response.into_inner().status()
    }

    async fn wait_until_serving(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                panic!("ledgerd exited early with {status}");
            }
            if let Ok(channel) = self.endpoint().connect().await {
                let reply = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await;
                if reply.is_ok_and(|reply| reply.into_inner().status() == ServingStatus::Serving) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "ledgerd did not start serving in time"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGTERM was delivered");
        self.child.wait().expect("ledgerd exits")
    }
}

impl Drop for Ledgerd {
    fn drop(&mut self) {
        // A test that failed half-way must not leave a server behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `ledgerd migrate` against `database_url` and returns its exit status.
pub fn migrate(database_url: &str) -> ExitStatus {
    Command::new(binary())
        .arg("migrate")
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::null())
        .status()
        .expect("ledgerd runs")
}
