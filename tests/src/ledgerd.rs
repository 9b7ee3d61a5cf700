//! Runs the real `ledgerd` binary as a child process.
//!
//! Tests that use it run on tokio's multi-threaded runtime, as real clients do.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ledger_api::pb;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The `ledgerd` binary of this build, built first if needed.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| crate::binaries::path("ledgerd"))
}

/// Two free loopback addresses: gRPC and metrics.
fn free_addresses() -> (SocketAddr, SocketAddr) {
    (
        ([127, 0, 0, 1], free_port()).into(),
        ([127, 0, 0, 1], free_port()).into(),
    )
}

/// A free loopback port for a child process to listen on: a random one below the kernel's
/// ephemeral range that can be bound now. A port the kernel hands out itself (binding port 0)
/// is released before the child binds it, and meanwhile any connection the tests open (to
/// PostgreSQL, to another `ledgerd`) may take it as its source port: a child then exits with
/// "Address already in use". Below the range only another test's pick can collide.
pub fn free_port() -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let floor = 10_000_u16;
    if ephemeral_low > floor {
        for _ in 0..100 {
            let offset = uuid::Uuid::new_v4().as_u128() % u128::from(ephemeral_low - floor);
            let port = floor + u16::try_from(offset).expect("below the range's low end");
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
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
    /// Where it serves Prometheus metrics (`GET /metrics`).
    pub metrics_address: SocketAddr,
    /// Its credentials and key-hash secret, shared with processes started beside it.
    secrets: Arc<Secrets>,
    /// How it was started, for a restart.
    options: LedgerdOptions,
}

/// A credentials file and a key-hash secret in a directory of their own (removed when the
/// last process using them is dropped), and one token per caller kind minted into the file:
/// dashboard, gateway, identity, support, auditor.
struct Secrets {
    dir: PathBuf,
    tokens: HashMap<&'static str, String>,
    /// Support tokens minted for other staff members, by staff id.
    staff_tokens: Mutex<HashMap<uuid::Uuid, String>>,
}

impl Secrets {
    fn mint() -> Secrets {
        let dir = std::env::temp_dir().join(format!("ledgerd-secrets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a secrets dir");
        let credentials = dir.join("credentials.json");
        let tokens = KINDS
            .iter()
            .map(|kind| (*kind, mint(&credentials, kind, &format!("test-{kind}"))))
            .collect();
        Secrets {
            dir,
            tokens,
            staff_tokens: Mutex::default(),
        }
    }

    fn credentials_file(&self) -> PathBuf {
        self.dir.join("credentials.json")
    }

    fn key_hash_secret_file(&self) -> PathBuf {
        self.dir.join("key-hash.secret")
    }
}

impl Drop for Secrets {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The caller kinds a credential can be minted for.
pub const KINDS: [&str; 6] = [
    "dashboard",
    "gateway",
    "identity",
    "support",
    "auditor",
    "notifier",
];

/// The staff member the support token minted at start is bound to.
pub const SUPPORT_STAFF: uuid::Uuid = uuid::Uuid::from_u128(0x5afe);

/// Mints a credential of `kind` into `credentials_file` with `ledgerd credentials add`; a
/// support credential is bound to [`SUPPORT_STAFF`].
pub fn mint(credentials_file: &Path, kind: &str, name: &str) -> String {
    let staff = (kind == "support").then_some(SUPPORT_STAFF);
    mint_bound(credentials_file, kind, name, staff)
}

/// Mints a credential of `kind`, bound to `staff` (support credentials need one).
pub fn mint_bound(
    credentials_file: &Path,
    kind: &str,
    name: &str,
    staff: Option<uuid::Uuid>,
) -> String {
    let staff_args = staff.map(|id| ["--staff-id".to_owned(), id.to_string()]);
    let output = Command::new(binary())
        .args(["credentials", "add", "--kind", kind, "--name", name])
        .args(staff_args.iter().flatten())
        .arg("--credentials-file")
        .arg(credentials_file)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("ledgerd runs");
    assert!(output.status.success(), "credentials add failed");
    String::from_utf8(output.stdout)
        .expect("the token is text")
        .trim()
        .to_owned()
}

/// How to start `ledgerd`.
#[derive(Debug, Clone, Default)]
pub struct LedgerdOptions {
    /// `DATABASE_URL`; `None` lets ledgerd start its embedded PostgreSQL.
    pub database_url: Option<String>,
    /// `--data-dir` for the embedded PostgreSQL.
    pub data_dir: PathBuf,
    /// When set, ledgerd's stdout and stderr go to this file (created or appended to) and it logs
    /// at debug level (`RUST_LOG=debug`); otherwise they are the test's.
    pub output_file: Option<PathBuf>,
    /// More flags after `serve` (e.g. `--no-migrate`).
    pub serve_args: Vec<String>,
    /// More environment variables for the child (its `LEDGER_*` settings, `RUST_LOG`).
    pub env: Vec<(String, String)>,
    /// Serve over TLS with these files; clients of this harness then dial `https://`.
    pub tls: Option<TlsFiles>,
}

/// The files of a TLS-serving `ledgerd`: its certificate and key, and the CA clients trust.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// `--tls-cert`: a certificate for `localhost`.
    pub cert: PathBuf,
    /// `--tls-key`.
    pub key: PathBuf,
    /// The CA certificate (PEM) that signed `cert`.
    pub ca_pem: Vec<u8>,
}

impl Ledgerd {
    /// Starts `ledgerd serve` and waits until its health service answers SERVING.
    pub async fn start(options: &LedgerdOptions) -> Ledgerd {
        Self::spawn(options.clone(), Arc::new(Secrets::mint()), free_addresses()).await
    }

    /// Starts a second `ledgerd` on the same database with the same credentials and key-hash
    /// secret (as a second replica in production), on ports of its own.
    pub async fn start_beside(&self) -> Ledgerd {
        Self::spawn(
            self.options.clone(),
            Arc::clone(&self.secrets),
            free_addresses(),
        )
        .await
    }

    /// Starts another `ledgerd` with the same credentials and key-hash secret, on ports of its
    /// own, with this one's options adjusted by `configure` (another database, `--read-only`).
    pub async fn start_beside_with(&self, configure: impl FnOnce(&mut LedgerdOptions)) -> Ledgerd {
        let mut options = self.options.clone();
        configure(&mut options);
        Self::spawn(options, Arc::clone(&self.secrets), free_addresses()).await
    }

    /// Starts `ledgerd serve` and waits only until its health service answers, whatever it
    /// says: for start-up against a database that is not there yet.
    pub async fn start_unready(options: &LedgerdOptions) -> Ledgerd {
        let mut ledgerd =
            Self::launch(options.clone(), Arc::new(Secrets::mint()), free_addresses());
        ledgerd
            .wait_for_health(Duration::from_secs(60), |_| true)
            .await;
        ledgerd
    }

    async fn spawn(
        options: LedgerdOptions,
        secrets: Arc<Secrets>,
        addresses: (SocketAddr, SocketAddr),
    ) -> Ledgerd {
        let mut ledgerd = Self::launch(options, secrets, addresses);
        ledgerd.wait_until_serving(Duration::from_secs(60)).await;
        ledgerd
    }

    fn launch(
        options: LedgerdOptions,
        secrets: Arc<Secrets>,
        (address, metrics_address): (SocketAddr, SocketAddr),
    ) -> Ledgerd {
        let child = Self::command(&options, &secrets, address, metrics_address)
            .spawn()
            .expect("ledgerd starts");
        Ledgerd {
            child,
            address,
            metrics_address,
            secrets,
            options,
        }
    }

    fn command(
        options: &LedgerdOptions,
        secrets: &Secrets,
        address: SocketAddr,
        metrics_address: SocketAddr,
    ) -> Command {
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .arg("--credentials-file")
            .arg(secrets.credentials_file())
            .arg("--key-hash-secret-file")
            .arg(secrets.key_hash_secret_file())
            .arg("--hold-expiry-interval-s")
            .arg("1")
            .arg("--listen")
            .arg(address.to_string())
            .arg("--metrics-listen")
            .arg(metrics_address.to_string())
            .arg("--data-dir")
            .arg(&options.data_dir)
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null());
        if let Some(url) = &options.database_url {
            command.env("DATABASE_URL", url);
        }
        if let Some(tls) = &options.tls {
            command
                .arg("--tls-cert")
                .arg(&tls.cert)
                .arg("--tls-key")
                .arg(&tls.key);
        }
        command.args(&options.serve_args);
        command.envs(options.env.iter().map(|(name, value)| (name, value)));
        if let Some(path) = &options.output_file {
            // Appended to, so a restarted process adds to what the first one wrote.
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("the output file can be opened");
            let copy = file
                .try_clone()
                .expect("the output file handle can be shared");
            command
                .env("RUST_LOG", "debug")
                .stdout(Stdio::from(file))
                .stderr(Stdio::from(copy));
        }
        command
    }

    /// Kills the process with SIGKILL, as a crash would (no shutdown, no flushing), and
    /// reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        // `Child::kill` sends SIGKILL on Unix.
        self.child.kill().expect("SIGKILL was delivered");
        self.child.wait().expect("ledgerd is reaped")
    }

    /// Starts the process again (after [`Ledgerd::kill`]) on the same ports, database,
    /// credentials and key-hash secret, and waits until it serves. Clients made before keep
    /// working: their channels reconnect.
    pub async fn restart(&mut self) {
        assert!(
            self.child
                .try_wait()
                .expect("the child can be polled")
                .is_some(),
            "restart only a stopped ledgerd"
        );
        self.child = Self::command(
            &self.options,
            &self.secrets,
            self.address,
            self.metrics_address,
        )
        .spawn()
        .expect("ledgerd starts again");
        self.wait_until_serving(Duration::from_secs(60)).await;
    }

    /// A gRPC channel to it, with bounded connect and call times so a test cannot hang.
    pub async fn channel(&self) -> Channel {
        self.endpoint()
            .connect()
            .await
            .expect("ledgerd accepts connections")
    }

    /// A channel like [`Ledgerd::channel`] that connects on its first call, so callers can be
    /// made without waiting (and before the server is up again after a restart).
    pub fn lazy_channel(&self) -> Channel {
        self.endpoint().connect_lazy()
    }

    fn endpoint(&self) -> Endpoint {
        let endpoint = Channel::from_shared(self.url())
            .expect("a valid URI")
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30));
        match &self.options.tls {
            Some(tls) => endpoint
                .tls_config(
                    ClientTlsConfig::new()
                        .ca_certificate(Certificate::from_pem(&tls.ca_pem))
                        .domain_name("localhost"),
                )
                .expect("a valid client TLS configuration"),
            None => endpoint,
        }
    }

    /// The address clients dial: `https://…` when it serves TLS.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.address)
    }

    /// The overall health status it reports.
    pub async fn health(&self) -> ServingStatus {
        self.health_of("").await
    }

    /// The health status it reports for `service` (`""`: the server as a whole).
    pub async fn health_of(&self, service: &str) -> ServingStatus {
        let mut client = HealthClient::new(self.channel().await);
        let response = client
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .expect("the health service answers");
        response.into_inner().status()
    }

    /// Waits until its overall health is SERVING; panics if it exits or takes longer than
    /// `within`.
    pub async fn wait_until_serving(&mut self, within: Duration) {
        self.wait_for_health(within, |status| status == ServingStatus::Serving)
            .await;
    }

    /// Waits until its overall health status satisfies `wanted`; panics if it exits or takes
    /// longer than `within`.
    pub async fn wait_for_health(
        &mut self,
        within: Duration,
        wanted: impl Fn(ServingStatus) -> bool,
    ) {
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
                if reply.is_ok_and(|reply| wanted(reply.into_inner().status())) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "ledgerd's health did not reach the wanted status in time"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("the child can be polled")
            .is_none()
    }

    /// The child's process id (the benchmark reads its memory from `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The token minted for a caller kind at start.
    pub fn token(&self, kind: &str) -> &str {
        self.secrets
            .tokens
            .get(kind)
            .map(String::as_str)
            .expect("a known caller kind")
    }

    /// Mints another credential while the server runs (it reloads the file on an unknown token).
    pub fn mint(&self, kind: &str, name: &str) -> String {
        mint(&self.credentials_file(), kind, name)
    }

    /// The credentials file it reads (tests edit it to revoke a credential).
    pub fn credentials_file(&self) -> PathBuf {
        self.secrets.credentials_file()
    }

    /// A support token bound to `staff` (minted on first use).
    pub fn support_token(&self, staff: uuid::Uuid) -> String {
        if staff == SUPPORT_STAFF {
            return self.token("support").to_owned();
        }
        let mut minted = self
            .secrets
            .staff_tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        minted
            .entry(staff)
            .or_insert_with(|| {
                let name = format!("test-support-{staff}");
                mint_bound(&self.credentials_file(), "support", &name, Some(staff))
            })
            .clone()
    }

    /// The token a caller of `kind` acting as `actor` sends: a support caller gets one bound
    /// to that staff member.
    pub fn token_for(&self, kind: &str, actor: Option<uuid::Uuid>) -> String {
        match (kind, actor) {
            ("support", Some(staff)) => self.support_token(staff),
            _ => self.token(kind).to_owned(),
        }
    }

    /// The Prometheus text `GET /metrics` returns.
    pub async fn scrape_metrics(&self) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.metrics_address)
            .await
            .expect("the metrics endpoint accepts connections");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: ledgerd\r\n\r\n")
            .await
            .expect("the request is sent");
        let mut response = String::new();
        tokio::time::timeout(
            Duration::from_secs(10),
            stream.read_to_string(&mut response),
        )
        .await
        .expect("the metrics endpoint answers in time")
        .expect("the response is text");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        response
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> ExitStatus {
        self.stop()
    }

    /// Stops it with SIGTERM and waits for it to exit, keeping the handle (and the secrets)
    /// for [`Ledgerd::restart`].
    pub fn stop(&mut self) -> ExitStatus {
        self.send_sigterm();
        self.child.wait().expect("ledgerd exits")
    }

    /// Sends SIGTERM without waiting: the drain that follows can be watched.
    pub fn send_sigterm(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGTERM was delivered");
    }

    /// Waits up to `within` for the process to exit; its status, or `None` if it still runs.
    pub async fn wait_for_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

/// Adds the bearer token and the acting user or staff id to every call.
#[derive(Clone)]
pub struct Auth {
    token: MetadataValue<Ascii>,
    actor: Option<MetadataValue<Ascii>>,
}

impl Interceptor for Auth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.token.clone());
        if let Some(actor) = &self.actor {
            request.metadata_mut().insert("x-actor-id", actor.clone());
        }
        Ok(request)
    }
}

/// A channel with credentials.
pub type Authed = InterceptedService<Channel, Auth>;

/// Every service's client, acting as one caller.
#[derive(Clone)]
pub struct Clients {
    /// UsersService.
    pub users: pb::users_service_client::UsersServiceClient<Authed>,
    /// OrganizationsService.
    pub orgs: pb::organizations_service_client::OrganizationsServiceClient<Authed>,
    /// CreditsService.
    pub credits: pb::credits_service_client::CreditsServiceClient<Authed>,
    /// KeysService.
    pub keys: pb::keys_service_client::KeysServiceClient<Authed>,
    /// GatewayService.
    pub gateway: pb::gateway_service_client::GatewayServiceClient<Authed>,
    /// SettingsService.
    pub settings: pb::settings_service_client::SettingsServiceClient<Authed>,
    /// SupportService.
    pub support: pb::support_service_client::SupportServiceClient<Authed>,
    /// AuditService.
    pub audit: pb::audit_service_client::AuditServiceClient<Authed>,
    /// ActivityService.
    pub activity: pb::activity_service_client::ActivityServiceClient<Authed>,
    /// NotificationsService.
    pub notifications: pb::notifications_service_client::NotificationsServiceClient<Authed>,
}

impl Clients {
    /// Clients on `channel` sending `token` (and `actor`).
    pub fn new(channel: Channel, token: &str, actor: Option<uuid::Uuid>) -> Self {
        let auth = Auth {
            token: format!("Bearer {token}").parse().expect("an ASCII token"),
            actor: actor.map(|a| a.to_string().parse().expect("a UUID is ASCII")),
        };
        let svc = || InterceptedService::new(channel.clone(), auth.clone());
        Clients {
            users: pb::users_service_client::UsersServiceClient::new(svc()),
            orgs: pb::organizations_service_client::OrganizationsServiceClient::new(svc()),
            credits: pb::credits_service_client::CreditsServiceClient::new(svc()),
            keys: pb::keys_service_client::KeysServiceClient::new(svc()),
            gateway: pb::gateway_service_client::GatewayServiceClient::new(svc()),
            settings: pb::settings_service_client::SettingsServiceClient::new(svc()),
            support: pb::support_service_client::SupportServiceClient::new(svc()),
            audit: pb::audit_service_client::AuditServiceClient::new(svc()),
            activity: pb::activity_service_client::ActivityServiceClient::new(svc()),
            notifications: pb::notifications_service_client::NotificationsServiceClient::new(svc()),
        }
    }
}
