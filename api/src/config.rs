//! `ledgerd`'s configuration, by flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::auth::rate::Rate;

/// ARouter Ledger: credits, API keys and usage billing over gRPC, on a PostgreSQL event log.
#[derive(Debug, Clone, Parser)]
#[command(name = "ledgerd", version)]
pub struct Config {
    /// PostgreSQL to use. Without it, ledgerd starts its own private PostgreSQL from the
    /// installed server binaries, with its data under --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Where the embedded PostgreSQL keeps its data (used only without DATABASE_URL).
    #[arg(
        long,
        env = "LEDGER_DATA_DIR",
        default_value = ".ledgerd",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Address the gRPC server listens on.
    #[arg(
        long,
        env = "LEDGER_LISTEN",
        default_value = "127.0.0.1:50051",
        global = true
    )]
    pub listen: SocketAddr,

    /// Address of the Prometheus metrics endpoint (`GET /metrics`); none when unset.
    #[arg(long, env = "LEDGER_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,

    /// Most database connections the server opens.
    #[arg(
        long,
        env = "LEDGER_DB_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub db_max_connections: u32,

    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, env = "LEDGER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// The credentials file: a JSON list of `{name, kind, token_sha256}` (tokens stored
    /// hashed only). Default: `<data-dir>/credentials.json`. Mint with `ledgerd credentials add`.
    #[arg(long, env = "LEDGER_CREDENTIALS_FILE", global = true)]
    pub credentials_file: Option<PathBuf>,

    /// The key-hash secret (32 bytes) API key secrets are hashed with. Default:
    /// `<data-dir>/key-hash.secret`, created (mode 0600) on first start if absent; a file others
    /// may read or write is refused.
    #[arg(long, env = "LEDGER_KEY_HASH_SECRET_FILE", global = true)]
    pub key_hash_secret_file: Option<PathBuf>,

    /// Serve gRPC over TLS with this certificate chain (PEM). Needs --tls-key. Without both,
    /// gRPC is plaintext: keep it on a private network or loopback.
    #[arg(long, env = "LEDGER_TLS_CERT", requires = "tls_key", global = true)]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "LEDGER_TLS_KEY", requires = "tls_cert", global = true)]
    pub tls_key: Option<PathBuf>,

    /// Largest request message accepted, in bytes.
    #[arg(long, env = "LEDGER_MAX_REQUEST_BYTES", default_value_t = 1 << 20, global = true)]
    pub max_request_bytes: usize,

    /// Per-request timeout, in milliseconds.
    #[arg(
        long,
        env = "LEDGER_REQUEST_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub request_timeout_ms: u64,

    /// Longest a single SQL statement may run, in milliseconds (PostgreSQL's
    /// `statement_timeout` on every pooled connection; 0: no limit). Every query of a request
    /// is small and indexed, so one that runs this long is cancelled, not waited for.
    #[arg(
        long,
        env = "LEDGER_STATEMENT_TIMEOUT_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub statement_timeout_ms: u64,

    /// Longest a single SQL statement of a consistency check may run, in milliseconds (it
    /// sorts the activity feed by position in one statement; 0: no limit).
    #[arg(
        long,
        env = "LEDGER_CHECK_STATEMENT_TIMEOUT_MS",
        default_value_t = 600_000,
        global = true
    )]
    pub check_statement_timeout_ms: u64,

    /// Most requests served at once per connection.
    #[arg(
        long,
        env = "LEDGER_CONCURRENCY_PER_CONNECTION",
        default_value_t = 256,
        global = true
    )]
    pub concurrency_per_connection: usize,

    /// The identity service's Ed25519 public key (PEM). When set, every dashboard call must
    /// carry `x-actor-assertion`: a JWT (EdDSA) signed with the matching private key, whose
    /// `sub` is the `x-actor-id` user, unexpired, living at most 300 s.
    #[arg(long, env = "LEDGER_DASHBOARD_ASSERTION_KEY", global = true)]
    pub dashboard_assertion_key: Option<PathBuf>,

    /// Calls per second each credential may make (the layer answers RESOURCE_EXHAUSTED with
    /// RetryInfo above it); 0: no limit.
    #[arg(
        long,
        env = "LEDGER_CREDENTIAL_RATE_PER_S",
        default_value_t = 0,
        global = true
    )]
    pub credential_rate_per_s: u32,

    /// Calls a credential may make at once above --credential-rate-per-s.
    #[arg(
        long,
        env = "LEDGER_CREDENTIAL_BURST",
        default_value_t = 100,
        global = true
    )]
    pub credential_burst: u32,

    /// `AuthenticateKey` calls per second per API key; 0: no limit.
    #[arg(
        long,
        env = "LEDGER_KEY_RATE_PER_S",
        default_value_t = 0,
        global = true
    )]
    pub key_rate_per_s: u32,

    /// `AuthenticateKey` calls an API key may make at once above --key-rate-per-s.
    #[arg(long, env = "LEDGER_KEY_BURST", default_value_t = 20, global = true)]
    pub key_burst: u32,

    /// Most items of one `GatewayService.Bill` stream taken and not yet answered; past it the
    /// server stops reading that stream until the client reads replies.
    #[arg(
        long,
        env = "LEDGER_BILL_IN_FLIGHT",
        default_value_t = crate::services::bill::DEFAULT_IN_FLIGHT,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=65_536),
        global = true
    )]
    pub bill_in_flight: usize,

    /// How often the hold-expiry task scans for holds past their TTL, in seconds.
    #[arg(
        long,
        env = "LEDGER_HOLD_EXPIRY_INTERVAL_S",
        default_value_t = 5,
        global = true
    )]
    pub hold_expiry_interval_s: u64,

    /// How long a projection runner lets new events gather before applying them, in
    /// milliseconds: fewer, larger read-model transactions for at most this much more lag.
    #[arg(
        long,
        env = "LEDGER_PROJECTION_GATHER_MS",
        default_value_t = 20,
        value_parser = clap::value_parser!(u64).range(0..=1_000),
        global = true
    )]
    pub projection_gather_ms: u64,

    /// How often the activity feed is pruned to each account's retention (and hourly rollups
    /// to theirs), in seconds; 0 never prunes. One process prunes at a time.
    #[arg(
        long,
        env = "LEDGER_ACTIVITY_PRUNE_INTERVAL_S",
        default_value_t = 3_600,
        value_parser = clap::value_parser!(u64).range(0..=604_800),
        global = true
    )]
    pub activity_prune_interval_s: u64,

    /// How long start-up (connecting, migrating, building the key index) keeps retrying while
    /// PostgreSQL is unreachable, in seconds, before `ledgerd` gives up and exits. Meanwhile
    /// health says NOT_SERVING and the ledger's RPCs answer UNAVAILABLE.
    #[arg(
        long,
        env = "LEDGER_STARTUP_TIMEOUT_S",
        default_value_t = 60,
        global = true
    )]
    pub startup_timeout_s: u64,

    /// Serve without applying migrations: for a run-time database role that has no DDL rights
    /// (the owner runs `ledgerd migrate` first). Start-up fails if a migration is pending.
    #[arg(long, env = "LEDGER_NO_MIGRATE", global = true)]
    pub no_migrate: bool,

    /// Serve reads only, from a hot standby (a streaming replica) of the ledger's database: no
    /// writer, no projectors, no hold expiry, no migrations. Commands are answered UNAVAILABLE
    /// with reason READ_ONLY_REPLICA (send them to a ledgerd on the primary); queries, exports,
    /// audit streams, VerifyChain and AuthenticateKey are served from what the standby has
    /// replayed. A ledgerd on the primary must have started once before (it records the
    /// key-hash secret's fingerprint and applies the migrations).
    #[arg(long, env = "LEDGER_READ_ONLY", global = true)]
    pub read_only: bool,

    /// With --read-only: health reports NOT_SERVING while the standby's replay lags the WAL it
    /// has received by more than this many milliseconds (measured as the age of the last
    /// replayed commit while received WAL waits to be replayed).
    #[arg(
        long,
        env = "LEDGER_MAX_REPLAY_LAG_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub max_replay_lag_ms: u64,

    /// A PostgreSQL database of their own for the read models (balances, keys, directory,
    /// activity and rollups, with their checkpoints). The projectors read the log from
    /// DATABASE_URL and write rows and checkpoints together here; every read-model query goes
    /// here. ledgerd applies its migrations to it (the log's tables there stay empty). Unset:
    /// the read models live in the log's database.
    #[arg(
        long,
        env = "LEDGER_READ_MODELS_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub read_models_database_url: Option<String>,

    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What `ledgerd` does.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Apply database migrations (unless --no-migrate), then serve gRPC until SIGTERM or
    /// Ctrl-C.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage caller credentials (no database needed).
    #[command(subcommand)]
    Credentials(CredentialsCommand),
}

/// Credential management. Every change locks the file, writes it whole with mode 0600 and
/// renames it into place; a running ledgerd applies it within a second.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum CredentialsCommand {
    /// Mint a credential: prints a fresh random token once and stores its SHA-256.
    Add {
        /// The caller kind the token authenticates.
        #[arg(long, value_enum)]
        kind: crate::credentials::CredentialKind,
        /// A unique name, recorded in the metadata of every event its calls append.
        #[arg(long)]
        name: String,
        /// The staff member a support credential acts as (required for `--kind support`, and
        /// only there).
        #[arg(long)]
        staff_id: Option<ledger_domain::StaffId>,
    },
    /// List the credentials: name, kind, staff member (never a token).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a credential by name; its token stops working.
    Remove {
        /// The credential's name.
        #[arg(long)]
        name: String,
    },
    /// Give a credential a new token (printed once); the old one stops working.
    Rotate {
        /// The credential's name.
        #[arg(long)]
        name: String,
    },
}

impl Config {
    /// The rate each credential may call at (`--credential-rate-per-s`, `--credential-burst`).
    pub fn credential_rate(&self) -> Rate {
        Rate {
            per_s: self.credential_rate_per_s,
            burst: self.credential_burst,
        }
    }

    /// The rate each API key may be authenticated at (`--key-rate-per-s`, `--key-burst`).
    pub fn key_rate(&self) -> Rate {
        Rate {
            per_s: self.key_rate_per_s,
            burst: self.key_burst,
        }
    }

    /// The credentials file in force.
    pub fn credentials_path(&self) -> PathBuf {
        self.credentials_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("credentials.json"))
    }

    /// The key-hash secret file in force.
    pub fn key_hash_secret_path(&self) -> PathBuf {
        self.key_hash_secret_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("key-hash.secret"))
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}
