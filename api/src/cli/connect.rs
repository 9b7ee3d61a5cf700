//! The connection to `ledgerd`: the channel and the credentials every call carries.

use std::path::Path;
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::cli::CliError;
use crate::pb;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a unary call may take (the server's own limit is 10 s by default).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A bearer token. Its `Debug` is redacted so it can never reach a log or an error message.
#[derive(Clone)]
pub struct Token(String);

impl std::str::FromStr for Token {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Token(text.trim().to_owned()))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Adds `authorization`, `x-actor-id` and a fresh `x-correlation-id` to every call.
#[derive(Clone)]
pub struct Auth {
    token: Option<MetadataValue<Ascii>>,
    actor: Option<MetadataValue<Ascii>>,
    correlation: MetadataValue<Ascii>,
}

impl Auth {
    /// Metadata for `token` and `staff_id`; the token is checked for ASCII without echoing it.
    pub fn new(token: Option<&Token>, staff_id: Option<uuid::Uuid>) -> Result<Self, CliError> {
        let token = token
            .map(|t| format!("Bearer {}", t.0).parse::<MetadataValue<Ascii>>())
            .transpose()
            .map_err(|_| CliError::Usage("the token is not printable ASCII".into()))?;
        let ascii = |id: uuid::Uuid| {
            id.to_string()
                .parse::<MetadataValue<Ascii>>()
                .map_err(|_| CliError::Usage("a UUID is ASCII".into()))
        };
        Ok(Auth {
            token,
            actor: staff_id.map(ascii).transpose()?,
            // One invocation of ledgerctl is one user action.
            correlation: ascii(uuid::Uuid::new_v4())?,
        })
    }
}

impl Interceptor for Auth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let metadata = request.metadata_mut();
        if let Some(token) = &self.token {
            metadata.insert("authorization", token.clone());
        }
        if let Some(actor) = &self.actor {
            metadata.insert("x-actor-id", actor.clone());
        }
        metadata.insert("x-correlation-id", self.correlation.clone());
        Ok(request)
    }
}

/// A channel with credentials.
pub type Authed = InterceptedService<Channel, Auth>;

/// The clients `ledgerctl` uses.
pub struct Clients {
    /// SupportService.
    pub support: pb::support_service_client::SupportServiceClient<Authed>,
    /// AuditService.
    pub audit: pb::audit_service_client::AuditServiceClient<Authed>,
    /// CreditsService.
    pub credits: pb::credits_service_client::CreditsServiceClient<Authed>,
    /// KeysService.
    pub keys: pb::keys_service_client::KeysServiceClient<Authed>,
    /// UsersService.
    pub users: pb::users_service_client::UsersServiceClient<Authed>,
    /// OrganizationsService.
    pub orgs: pb::organizations_service_client::OrganizationsServiceClient<Authed>,
    /// ActivityService.
    pub activity: pb::activity_service_client::ActivityServiceClient<Authed>,
    /// GatewayService.
    pub gateway: pb::gateway_service_client::GatewayServiceClient<Authed>,
}

impl Clients {
    /// Every client over `channel`, each call carrying `auth`.
    pub fn new(channel: &Channel, auth: Auth) -> Clients {
        let svc = || InterceptedService::new(channel.clone(), auth.clone());
        Clients {
            support: pb::support_service_client::SupportServiceClient::new(svc()),
            audit: pb::audit_service_client::AuditServiceClient::new(svc()),
            credits: pb::credits_service_client::CreditsServiceClient::new(svc()),
            keys: pb::keys_service_client::KeysServiceClient::new(svc()),
            users: pb::users_service_client::UsersServiceClient::new(svc()),
            orgs: pb::organizations_service_client::OrganizationsServiceClient::new(svc()),
            activity: pb::activity_service_client::ActivityServiceClient::new(svc()),
            gateway: pb::gateway_service_client::GatewayServiceClient::new(svc()),
        }
    }
}

/// Connects to `server` (bounded connect time; streams are not time-limited), over TLS
/// trusting `tls_ca` when the address is `https://`; warns when `sends_token` and the token
/// would cross a network in plaintext.
pub async fn connect(
    server: &str,
    tls_ca: Option<&Path>,
    sends_token: bool,
) -> Result<Channel, CliError> {
    let mut endpoint = Endpoint::from_shared(server.to_owned())
        .map_err(|e| CliError::Usage(format!("--server {server:?}: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT);
    if sends_token && exposes_token(server) {
        eprintln!(
            "warning: {server} is not TLS and not this machine: the bearer token crosses the \
             network in plaintext; use https:// with --tls-ca"
        );
    }
    if server.starts_with("https://") {
        let Some(ca) = tls_ca else {
            return Err(CliError::Usage(
                "an https:// --server needs --tls-ca (the CA that signed its certificate)".into(),
            ));
        };
        let pem = std::fs::read(ca)
            .map_err(|e| CliError::Connect(format!("--tls-ca {}: {e}", ca.display())))?;
        endpoint = endpoint
            .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))
            .map_err(|e| CliError::Usage(format!("--tls-ca {}: {}", ca.display(), chain(&e))))?;
    }
    endpoint
        .connect()
        .await
        .map_err(|e| CliError::Connect(format!("cannot connect to {server}: {}", chain(&e))))
}

/// Whether a token sent to `server` would cross a network unencrypted: plain `http://` to a
/// host other than the loopback interface.
fn exposes_token(server: &str) -> bool {
    let Some(rest) = server
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
        .map(|_| &server[7..])
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

/// An error and its sources, `: `-separated (transport errors hide the cause in a source).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// A unary request with the call timeout (sent as `grpc-timeout`).
pub fn unary<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(CALL_TIMEOUT);
    request
}

#[cfg(test)]
mod tests {
    use super::exposes_token;

    #[test]
    fn only_plaintext_to_another_host_exposes_the_token() {
        for local in [
            "http://localhost:50051",
            "http://127.0.0.1:50051",
            "http://127.8.0.1",
            "http://[::1]:50051",
            "https://ledger.internal:443",
        ] {
            assert!(!exposes_token(local), "{local}");
        }
        for remote in [
            "http://ledger.internal:50051",
            "http://10.0.0.7:50051",
            "http://[2001:db8::1]:50051",
            "http://localhost.evil.example:1",
            "HTTP://ledger.internal:50051",
        ] {
            assert!(exposes_token(remote), "{remote}");
        }
    }
}
