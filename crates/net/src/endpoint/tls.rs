//! TLS 1.2/1.3 over any connected byte stream (rustls with the ring provider; no OpenSSL).
//!
//! TLS is a layer on a [`Conn`], not a kind of its own: `tls:HOST:PORT` is `tcp:HOST:PORT,tls`,
//! and `unix:/path,tls` runs it over a Unix socket. [`super::connect`] opens the stream as
//! usual and then runs the client handshake (`Client::handshake`); [`super::Listener`]
//! accepts as usual and runs the server handshake for each client (`Acceptor`) while it
//! goes on accepting others. Any kind that opens a stream socket gets TLS this way, proxies
//! included.
//!
//! The relay engine moves bytes between fds (`splice(2)`, `read`/`write`), and TLS needs
//! user-space record processing, so a TLS connection is bridged: the [`Conn`] handed out is
//! one end of a `socketpair(AF_UNIX, SOCK_STREAM)`, and a task (`pump`) runs rustls between
//! the real socket and the other end, both ways, half-close included (end of stream sends
//! `close_notify` and shuts the socket's write side; `close_notify` from the peer is end of
//! stream). This costs one copy through the socket pair per byte; `bench/tls.sh` measures it.
//!
//! Configuration (certificates, keys, CA files) is read before anything is opened, so a
//! missing or unparsable file is a usage error (exit 2). Verification failures and alerts
//! are one line naming the reason ([`describe`]).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
    ServerConfig, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::access::SubjectRule;
use super::{fdio, Conn, Failure, Medium};
use crate::addr::{Address, Options};
use crate::error::{Error, Result};
use crate::narrate;

/// How long a peer may take over its handshake before it is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The pump's buffer per direction; a TLS record holds at most 16 KiB of plaintext.
const CHUNK: usize = 64 * 1024;
/// What is read from the socket at once. rustls asks for 4 KiB at a time (a quarter of a full
/// record); reading ahead into a buffer makes that one `read(2)` per four records.
const READ_AHEAD: usize = 64 * 1024;

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

fn usage(addr: &Address, what: impl std::fmt::Display) -> Error {
    Error::Usage(format!("{addr}: {what}"))
}

/// Every certificate in a PEM file (`cert=`, `cafile=`).
fn read_certs(addr: &Address, option: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bad = |why: String| usage(addr, format_args!("{option}={}: {why}", path.display()));
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| bad(pem_error(&e)))?;
    let certs: Vec<_> = iter
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(pem_error(&e)))?;
    if certs.is_empty() {
        return Err(bad(
            "no certificate in it (expected PEM: -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    for c in &certs {
        if x509_parser::parse_x509_certificate(c).is_err() {
            return Err(bad("a certificate in it does not parse as X.509".into()));
        }
    }
    Ok(certs)
}

/// The private key in a PEM file (`key=`, or `cert=` holding both).
fn read_key(addr: &Address, option: &str, path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        let why = match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "no private key in it (expected PEM: -----BEGIN PRIVATE KEY----- or an RSA/EC key)"
                    .to_owned()
            }
            e => pem_error(&e),
        };
        usage(addr, format_args!("{option}={}: {why}", path.display()))
    })
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(e) => match e.kind() {
            io::ErrorKind::NotFound => "no such file".into(),
            io::ErrorKind::PermissionDenied => "permission denied".into(),
            _ => e.to_string(),
        },
        E::NoItemsFound => "nothing in PEM form in it".into(),
        e => format!("not valid PEM ({e})"),
    }
}

/// A certificate chain and its key, checked to belong together. `key=` defaults to the
/// `cert=` file (one PEM file holding both, as socat and haproxy take it).
fn read_identity(addr: &Address) -> Result<Option<CertifiedKey>> {
    let o = &addr.options;
    let (cert, key, key_option) = match (&o.cert, &o.key) {
        (None, None) => return Ok(None),
        (None, Some(_)) => return Err(usage(addr, "key= needs cert=, the certificate it signs")),
        (Some(c), None) => (c, c, "cert"),
        (Some(c), Some(k)) => (c, k, "key"),
    };
    let chain = read_certs(addr, "cert", cert)?;
    let der = read_key(addr, key_option, key)?;
    CertifiedKey::from_der(chain, der, &provider())
        .map(Some)
        .map_err(|e| {
            let why = match e {
                rustls::Error::InconsistentKeys(_) => {
                    "does not match the certificate of cert=".into()
                }
                e => format!("cannot be used: {e}"),
            };
            usage(
                addr,
                format_args!("{key_option}={}: the key {why}", key.display()),
            )
        })
}

fn read_roots(addr: &Address, path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for c in read_certs(addr, "cafile", path)? {
        roots.add(c).map_err(|e| {
            usage(
                addr,
                format_args!(
                    "cafile={}: a certificate cannot be a CA: {e}",
                    path.display()
                ),
            )
        })?;
    }
    Ok(roots)
}

/// The system's CA store (rustls-native-certs: the distribution's bundle, `SSL_CERT_FILE`,
/// `SSL_CERT_DIR`), read once.
fn system_roots() -> Result<Arc<RootCertStore>> {
    static ROOTS: OnceLock<std::result::Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            narrate!("loaded {added} CA certificates from the system store");
            if added == 0 {
                let why = found.errors.first().map(|e| format!(" ({e})"));
                return Err(format!(
                    "no CA certificates in the system store{}: install ca-certificates, or give \
                     cafile=",
                    why.unwrap_or_default()
                ));
            }
            Ok(Arc::new(roots))
        })
        .clone()
        .map_err(Error::Refused)
}

// ---------------------------------------------------------------------------------------
// Client

/// Checks the server's certificate (or, with `verify=0`, does not) and remembers whether
/// the server stapled an OCSP response, for the narration.
#[derive(Debug)]
struct ServerCheck {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
    /// Stapled OCSP response length by end-entity certificate, for `-v`.
    stapled: Mutex<HashMap<Vec<u8>, usize>>,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut map) = self.stapled.lock() {
            if map.len() > 64 {
                map.clear();
            }
            map.insert(end_entity.to_vec(), ocsp_response.len());
        }
        match &self.webpki {
            Some(v) => v
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|e| expired_with_date(e, end_entity, now)),
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// webpki reports a certificate whose validity ends before it begins (what `openssl x509 -days
/// -1` makes) as `Expired` with no dates; when its end is past, it has expired: say when, as
/// for any other expired certificate.
fn expired_with_date(e: rustls::Error, cert: &CertificateDer<'_>, now: UnixTime) -> rustls::Error {
    if !matches!(
        e,
        rustls::Error::InvalidCertificate(CertificateError::Expired)
    ) {
        return e;
    }
    let not_after = x509_parser::parse_x509_certificate(cert)
        .ok()
        .and_then(|(_, c)| u64::try_from(c.validity().not_after.timestamp()).ok());
    match not_after {
        Some(t) if t < now.as_secs() => CertificateError::ExpiredContext {
            time: now,
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(t)),
        }
        .into(),
        _ => e,
    }
}

/// What a client configuration depends on: configurations are shared by every connection
/// of the same address (a relay's connecting side), so TLS sessions are resumed and the CA
/// store is read once.
#[derive(Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    cert: Option<std::path::PathBuf>,
    key: Option<std::path::PathBuf>,
    cafile: Option<std::path::PathBuf>,
    no_verify: bool,
    alpn: Option<Vec<String>>,
}

struct ClientSetup {
    config: Arc<ClientConfig>,
    check: Arc<ServerCheck>,
}

/// The client side of an address with `tls`: its configuration and the name it checks.
pub(crate) struct Client {
    setup: Arc<ClientSetup>,
    name: ServerName<'static>,
    /// What the server's certificate is checked against, for the narration.
    trust: &'static str,
}

type ClientCache = Mutex<HashMap<ClientKey, Arc<ClientSetup>>>;

impl Client {
    /// Reads everything the handshake needs (files, the CA store) before anything opens.
    pub(crate) fn new(addr: &Address) -> Result<Client> {
        let o = &addr.options;
        let name = server_name(addr)?;
        let key = ClientKey {
            cert: o.cert.clone(),
            key: o.key.clone(),
            cafile: o.cafile.clone(),
            no_verify: o.no_verify,
            alpn: o.alpn.clone(),
        };
        let trust = match (o.no_verify, &o.cafile) {
            (true, _) => "nothing (verify=0)",
            (false, Some(_)) => "cafile=",
            (false, None) => "the system CA store",
        };
        static CACHE: OnceLock<ClientCache> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(setup) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(Client { setup, name, trust });
        }
        let setup = Arc::new(client_setup(addr)?);
        if let Ok(mut c) = cache.lock() {
            c.insert(key, setup.clone());
        }
        Ok(Client { setup, name, trust })
    }

    /// Runs the client handshake over `conn`, a connected stream, and returns the bridged
    /// connection.
    pub(crate) async fn handshake(&self, conn: Conn, addr: &Address) -> Result<Conn> {
        if addr.options.no_verify {
            tracing::warn!(
                "{addr}: the server's certificate is NOT checked (verify=0); anyone on the path \
                 can read and change this connection"
            );
        }
        let label = conn.label.clone();
        let peer = conn.peer.clone();
        let framing = conn.framing;
        let Some((fd, medium)) = conn.into_socket() else {
            return Err(Error::Usage(format!(
                "{addr}: tls runs over a stream socket (tcp, unix), not this kind"
            )));
        };
        let connector = tokio_rustls::TlsConnector::from(self.setup.config.clone());
        narrate!(
            "tls client hello to {label} (server name {})",
            self.name.to_str()
        );
        let failed = |e: io::Error| Error::Tls(format!("{addr}: tls handshake: {}", describe(&e)));
        let timeout = |_| {
            Error::Tls(format!(
                "{addr}: tls handshake: no answer in {}s",
                HANDSHAKE_TIMEOUT.as_secs()
            ))
        };
        let mut c = match medium {
            Medium::Tcp => {
                let io = tokio::net::TcpStream::from_std(std::net::TcpStream::from(fd))
                    .map_err(|e| Error::Tls(format!("{addr}: {e}")))?;
                // TLS writes whole records: Nagle would only hold the record after a
                // handshake message back for the peer's delayed ACK (40 ms).
                io.set_nodelay(true)
                    .map_err(|e| Error::Tls(format!("{addr}: TCP_NODELAY: {e}")))?;
                let io = tokio::io::BufReader::with_capacity(READ_AHEAD, io);
                let s = tokio::time::timeout(
                    HANDSHAKE_TIMEOUT,
                    connector.connect(self.name.clone(), io),
                )
                .await
                .map_err(timeout)?
                .map_err(failed)?;
                self.narrate(s.get_ref().1);
                bridge(s, label.to_string(), framing)?
            }
            Medium::UnixStream => {
                let io = UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))
                    .map_err(|e| Error::Tls(format!("{addr}: {e}")))?;
                let io = tokio::io::BufReader::with_capacity(READ_AHEAD, io);
                let s = tokio::time::timeout(
                    HANDSHAKE_TIMEOUT,
                    connector.connect(self.name.clone(), io),
                )
                .await
                .map_err(timeout)?
                .map_err(failed)?;
                self.narrate(s.get_ref().1);
                bridge(s, label.to_string(), framing)?
            }
            _ => {
                return Err(Error::Usage(format!(
                    "{addr}: tls runs over a stream socket (tcp, unix), not this kind"
                )))
            }
        };
        c.peer = peer;
        Ok(c)
    }

    /// `-v`: what `openssl s_client` is used for: version, cipher suite, ALPN, the chain,
    /// OCSP.
    fn narrate(&self, s: &rustls::ClientConnection) {
        narrate_session(s);
        if let Some(chain) = s.peer_certificates() {
            narrate!("server certificate chain ({} sent):", chain.len());
            for (i, c) in chain.iter().enumerate() {
                narrate!("  {i}: {}", describe_cert(c));
            }
            let stapled = chain.first().and_then(|ee| {
                let map = self.setup.check.stapled.lock().ok()?;
                map.get(ee.as_ref()).copied()
            });
            match stapled {
                Some(n) if n > 0 => narrate!("OCSP: a stapled response of {n} bytes"),
                _ => narrate!("OCSP: none stapled"),
            }
        }
        narrate!("server certificate checked against {}", self.trust);
    }
}

fn client_setup(addr: &Address) -> Result<ClientSetup> {
    let o = &addr.options;
    let provider = provider();
    let algorithms = provider.signature_verification_algorithms;
    let webpki = if o.no_verify {
        None
    } else {
        let roots = match &o.cafile {
            Some(path) => Arc::new(read_roots(addr, path)?),
            None => system_roots()?,
        };
        let v = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| usage(addr, format_args!("cafile=: {e}")))?;
        Some(v)
    };
    let check = Arc::new(ServerCheck {
        webpki,
        algorithms,
        stapled: Mutex::default(),
    });
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(check.clone());
    let mut config = match read_identity(addr)? {
        Some(id) => builder
            .with_client_auth_cert(id.cert.clone(), read_key_again(addr)?)
            .map_err(|e| usage(addr, format_args!("cert=/key=: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn(o);
    Ok(ClientSetup {
        config: Arc::new(config),
        check,
    })
}

/// The key of `key=` (or `cert=`) as DER, for rustls' builders that take it by value.
fn read_key_again(addr: &Address) -> Result<PrivateKeyDer<'static>> {
    let o = &addr.options;
    match (&o.key, &o.cert) {
        (Some(k), _) => read_key(addr, "key", k),
        (None, Some(c)) => read_key(addr, "cert", c),
        (None, None) => Err(usage(addr, "no key")),
    }
}

fn alpn(o: &Options) -> Vec<Vec<u8>> {
    o.alpn
        .iter()
        .flatten()
        .map(|p| p.as_bytes().to_vec())
        .collect()
}

/// The name the server's certificate must carry and SNI sends: `sni=`, else the host of a
/// tcp address or of a proxy's target. A Unix socket has no host name, so it needs `sni=` or `verify=0`.
fn server_name(addr: &Address) -> Result<ServerName<'static>> {
    let host = match (&addr.options.sni, &addr.endpoint) {
        (Some(sni), _) => sni.clone(),
        (None, crate::addr::Endpoint::Tcp(t)) => match &t.host {
            Some(h) => h.clone(),
            None => return Err(usage(addr, "tls needs a host name to check")),
        },
        // Through a proxy, the name is the target's, not the proxy's.
        (None, crate::addr::Endpoint::Proxy(p)) => p.host.clone(),
        (None, _) if addr.options.no_verify => "localhost".to_owned(),
        (None, _) => {
            return Err(usage(
                addr,
                "tls over this kind needs sni=NAME, the name the server's certificate must \
                 carry (or verify=0 to skip the check)",
            ))
        }
    };
    ServerName::try_from(host.clone()).map_err(|_| {
        usage(
            addr,
            format_args!("'{host}' is not a valid TLS server name"),
        )
    })
}

/// Reads what the client side of `addr` needs (certificates, the CA store), when it has
/// `tls`, so a bad file is a usage error before anything is opened; the configuration is
/// kept for its connections.
pub fn prepare(addr: &Address) -> Result<()> {
    if addr.options.tls {
        Client::new(addr)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Server

/// The server side of a listening address with `tls`: runs each accepted client's handshake
/// in a task of its own, so a slow or silent client never holds up the next `accept`.
pub(crate) struct Acceptor {
    config: Arc<ServerConfig>,
    pending: JoinSet<Option<Conn>>,
    /// `--allow-subject`: a client certificate must match one (checked after the handshake).
    subjects: Arc<Vec<SubjectRule>>,
    /// Clients whose certificate matched no `--allow-subject`.
    refused: Arc<std::sync::atomic::AtomicU64>,
    verifies: bool,
}

impl Acceptor {
    /// Reads `cert=`/`key=`/`cafile=`, or makes a self-signed certificate, before the
    /// listener binds.
    pub(crate) fn new(addr: &Address) -> Result<Acceptor> {
        Ok(Acceptor {
            config: Arc::new(server_config(addr)?),
            pending: JoinSet::new(),
            subjects: Arc::default(),
            refused: Arc::default(),
            verifies: super::access::verifies_clients(addr),
        })
    }

    /// True when clients must show a certificate verified against `cafile=`.
    pub(crate) fn verifies_clients(&self) -> bool {
        self.verifies
    }

    /// Let in only clients whose verified certificate matches one of `rules` (none: all).
    pub(crate) fn allow_subjects(&mut self, rules: Vec<SubjectRule>) {
        self.subjects = Arc::new(rules);
    }

    /// Clients refused by `--allow-subject` so far.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Starts the handshake of a client just accepted.
    pub(crate) fn start(&mut self, conn: Conn) {
        let (config, subjects, refused) = (
            self.config.clone(),
            self.subjects.clone(),
            self.refused.clone(),
        );
        self.pending.spawn(async move {
            let label = conn.label.clone();
            match server_handshake(conn, config, &subjects).await {
                Ok(c) => Some(c),
                Err(Handshake::Failed(why)) => {
                    tracing::warn!("{label}: tls handshake: {why}");
                    None
                }
                Err(Handshake::Refused(who)) => {
                    refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "refused {who}: certificate subject not in --allow-subject {}",
                        subjects
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(" | ")
                    );
                    None
                }
            }
        });
    }

    /// True while handshakes are running.
    pub(crate) fn busy(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The next client whose handshake succeeded. Cancel-safe; pends forever when no
    /// handshake is running.
    pub(crate) async fn next(&mut self) -> Conn {
        loop {
            match self.pending.join_next().await {
                Some(Ok(Some(conn))) => return conn,
                Some(_) => {}
                None => std::future::pending::<()>().await,
            }
        }
    }
}

fn server_config(addr: &Address) -> Result<ServerConfig> {
    let o = &addr.options;
    if o.sni.is_some() {
        return Err(usage(
            addr,
            "sni= is for the connecting side of tls (a server answers any name)",
        ));
    }
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    // verify=0 on a listener (socat's spelling for "no client certificates") asks none.
    let builder = match o.cafile.as_ref().filter(|_| !o.no_verify) {
        Some(path) => {
            let roots = Arc::new(read_roots(addr, path)?);
            let v = WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| usage(addr, format_args!("cafile=: {e}")))?;
            builder.with_client_cert_verifier(v)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = match read_identity(addr)? {
        Some(id) => builder
            .with_single_cert(id.cert.clone(), read_key_again(addr)?)
            .map_err(|e| usage(addr, format_args!("cert=/key=: {e}")))?,
        None => {
            let (chain, key) = self_signed(addr)?;
            builder
                .with_single_cert(chain, key)
                .map_err(|e| Error::Tls(format!("{addr}: self-signed certificate: {e}")))?
        }
    };
    config.alpn_protocols = alpn(o);
    Ok(config)
}

/// No `cert=`: a certificate made for this run, for localhost, the loopback addresses, this
/// host's name and the listening host; its SHA-256 fingerprint goes to stderr so a client can
/// pin it.
fn self_signed(addr: &Address) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".into(), "::1".into()];
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        names.push(h.trim().to_owned());
    }
    if let crate::addr::Endpoint::Tcp(t) = &addr.endpoint {
        names.extend(t.host.clone());
    }
    names.retain(|n| !n.is_empty() && n != "0.0.0.0" && n != "::");
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    let made = rcgen::generate_simple_self_signed(names.clone())
        .map_err(|e| Error::Tls(format!("{addr}: making a self-signed certificate: {e}")))?;
    let der = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
    tracing::warn!(
        "{addr}: no cert= given: serving a self-signed certificate made now for {}; SHA-256 \
         fingerprint {}",
        names.join(", "),
        fingerprint(&der)
    );
    Ok((vec![der], key))
}

/// SHA-256 of a certificate, as `openssl x509 -fingerprint -sha256` prints it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = String::new();
    for (i, b) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02X}");
    }
    out
}

/// Why a server handshake handed out no connection.
enum Handshake {
    /// The handshake failed (the reason, for the log).
    Failed(String),
    /// The client's certificate matched no `--allow-subject` (the client as reported).
    Refused(String),
}

impl From<String> for Handshake {
    fn from(why: String) -> Self {
        Handshake::Failed(why)
    }
}

async fn server_handshake(
    conn: Conn,
    config: Arc<ServerConfig>,
    subjects: &[SubjectRule],
) -> std::result::Result<Conn, Handshake> {
    let label = conn.label.clone();
    let peer = conn.peer.clone();
    let framing = conn.framing;
    let Some((fd, medium)) = conn.into_socket() else {
        return Err("not a stream socket".to_owned().into());
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let mut c = match medium {
        Medium::Tcp => {
            let io = tokio::net::TcpStream::from_std(std::net::TcpStream::from(fd))
                .map_err(|e| e.to_string())?;
            // As on the client side: records are written whole; Nagle would delay the first
            // one after the session tickets by the client's delayed ACK.
            io.set_nodelay(true).map_err(|e| e.to_string())?;
            let io = tokio::io::BufReader::with_capacity(READ_AHEAD, io);
            let mut s =
                in_time(tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await)?;
            let label = server_label(&label, s.get_ref().1);
            if let Err(refused) = judge(s.get_ref().1, subjects, &label) {
                refuse(&mut s).await;
                return Err(refused);
            }
            bridge(s, label, framing).map_err(|e| e.to_string())?
        }
        Medium::UnixStream => {
            let io = UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))
                .map_err(|e| e.to_string())?;
            let io = tokio::io::BufReader::with_capacity(READ_AHEAD, io);
            let mut s =
                in_time(tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await)?;
            let label = server_label(&label, s.get_ref().1);
            if let Err(refused) = judge(s.get_ref().1, subjects, &label) {
                refuse(&mut s).await;
                return Err(refused);
            }
            bridge(s, label, framing).map_err(|e| e.to_string())?
        }
        _ => return Err("not a stream socket".to_owned().into()),
    };
    c.peer = peer;
    Ok(c)
}

/// A client refused after its handshake gets a TLS close_notify, so it reads a clean end of
/// the session (not a truncation error), then the connection closes. Bounded: a client that
/// reads nothing cannot hold the task.
async fn refuse<S: AsyncWrite + Unpin>(s: &mut S) {
    let _ = tokio::time::timeout(Duration::from_secs(1), s.shutdown()).await;
}

/// `--allow-subject`: the client's certificate (verified against `cafile=` by the handshake)
/// must match one rule. Refused, the connection is dropped: the client reads end-of-stream
/// before any byte of the service.
fn judge(
    s: &rustls::ServerConnection,
    rules: &[SubjectRule],
    label: &str,
) -> std::result::Result<(), Handshake> {
    if rules.is_empty() {
        return Ok(());
    }
    let attributes = s
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|ee| subject_attributes(ee))
        .unwrap_or_default();
    if rules.iter().any(|r| r.matches(&attributes)) {
        Ok(())
    } else {
        Err(Handshake::Refused(label.to_owned()))
    }
}

/// A certificate's subject as `(attribute, value)` pairs, attributes named as in
/// [`SUBJECT_ATTRIBUTES`](super::access::SUBJECT_ATTRIBUTES); empty when it does not parse.
fn subject_attributes(der: &[u8]) -> Vec<(&'static str, String)> {
    let Ok((_, c)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let name = c.subject();
    let mut out = Vec::new();
    let mut add =
        |key: &'static str,
         values: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
            for v in values {
                if let Ok(text) = v.as_str() {
                    out.push((key, text.to_owned()));
                }
            }
        };
    add("CN", &mut name.iter_common_name());
    add("O", &mut name.iter_organization());
    add("OU", &mut name.iter_organizational_unit());
    add("C", &mut name.iter_country());
    add("ST", &mut name.iter_state_or_province());
    add("L", &mut name.iter_locality());
    add("emailAddress", &mut name.iter_email());
    out
}

fn in_time<T>(
    r: std::result::Result<io::Result<T>, tokio::time::error::Elapsed>,
) -> std::result::Result<T, String> {
    match r {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err(format!("no handshake in {}s", HANDSHAKE_TIMEOUT.as_secs())),
    }
}

/// The client as reported: its address, and the subject of its certificate when it gave
/// one (mTLS).
fn server_label(label: &str, s: &rustls::ServerConnection) -> String {
    narrate!("tls handshake with {label} done");
    narrate_session(s);
    match s.peer_certificates().and_then(|c| c.first()) {
        Some(ee) => {
            narrate!("client certificate: {}", describe_cert(ee));
            format!("{label} (tls client {})", subject(ee))
        }
        None => label.to_owned(),
    }
}

fn narrate_session<D>(s: &rustls::ConnectionCommon<D>) {
    let version = s
        .protocol_version()
        .map_or_else(|| "?".into(), |v| format!("{v:?}").replace('_', "."));
    let suite = s
        .negotiated_cipher_suite()
        .map_or_else(|| "?".into(), |c| format!("{:?}", c.suite()));
    let alpn = s.alpn_protocol().map_or_else(
        || "none".into(),
        |p| String::from_utf8_lossy(p).into_owned(),
    );
    narrate!("tls: {version}, cipher suite {suite}, ALPN {alpn}");
}

/// The subject of a certificate, as `openssl x509 -subject` prints it (RFC 4514 order).
pub fn subject(der: &[u8]) -> String {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, c)) => c.subject().to_string(),
        Err(_) => "(unparsable certificate)".into(),
    }
}

fn describe_cert(der: &[u8]) -> String {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, c)) => {
            let v = c.validity();
            format!(
                "subject {}; issuer {}; valid from {} to {}",
                c.subject(),
                c.issuer(),
                v.not_before,
                v.not_after
            )
        }
        Err(_) => "(unparsable certificate)".into(),
    }
}

// ---------------------------------------------------------------------------------------
// Errors

/// One line saying why a TLS exchange failed, in the user's terms.
pub fn describe(e: &io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(tls) => describe_tls(tls),
        None if e.kind() == io::ErrorKind::UnexpectedEof => {
            "the peer closed the connection during the handshake (is it TLS? does it want a \
             client certificate?)"
                .into()
        }
        None => e.to_string(),
    }
}

fn describe_tls(e: &rustls::Error) -> String {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(c) => describe_cert_error(c),
        E::NoCertificatesPresented => {
            "the client sent no certificate, and cafile= requires one (mTLS)".into()
        }
        E::AlertReceived(a) => describe_alert(*a),
        E::NoApplicationProtocol => "no ALPN protocol in common with the peer".into(),
        E::InvalidMessage(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. } => {
            format!("the peer does not speak TLS as expected ({e})")
        }
        e => e.to_string(),
    }
}

fn describe_cert_error(c: &CertificateError) -> String {
    use CertificateError as C;
    match c {
        C::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "certificate is not valid for {} (wrong host name; it is for {}); sni=NAME checks \
             another name",
            expected.to_str(),
            if presented.is_empty() {
                "no name".into()
            } else {
                presented
                    .iter()
                    .map(|n| plain_name(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        C::NotValidForName => {
            "certificate is not valid for this host name (wrong host name)".into()
        }
        C::Expired => {
            "certificate is never valid (its validity period ends before it begins)".into()
        }
        C::ExpiredContext { not_after, .. } => format!(
            "certificate has expired (not valid after {})",
            asn1_time(*not_after)
        ),
        C::NotValidYet | C::NotValidYetContext { .. } => "certificate is not valid yet".into(),
        C::UnknownIssuer => "certificate is signed by an unknown CA (not in the system store or \
                             cafile=; verify=0 skips the check)"
            .into(),
        C::BadSignature => "certificate has a bad signature".into(),
        C::Revoked => "certificate has been revoked".into(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "certificate is not for this purpose (extended key usage)".into()
        }
        c => format!("invalid certificate: {c:?}"),
    }
}

/// A name a certificate presents, as webpki gives it (its `Debug` form: `DnsName("a.example")`,
/// `IpAddress(127.0.0.1)`), written plainly: `a.example`, `127.0.0.1`.
fn plain_name(presented: &str) -> &str {
    for kind in ["DnsName", "IpAddress", "UniformResourceIdentifier"] {
        let inner = presented
            .strip_prefix(kind)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'));
        if let Some(inner) = inner {
            return inner
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or(inner);
        }
    }
    presented
}

fn asn1_time(t: UnixTime) -> String {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| x509_parser::time::ASN1Time::from_timestamp(s).ok())
        .map_or_else(|| t.as_secs().to_string(), |t| t.to_string())
}

fn describe_alert(a: AlertDescription) -> String {
    use AlertDescription as A;
    match a {
        A::CertificateRequired => {
            "the peer requires a client certificate (give cert= and key=)".into()
        }
        A::UnknownCA => "the peer does not trust our certificate (unknown CA)".into(),
        A::BadCertificate | A::UnsupportedCertificate => {
            "the peer refused our certificate (bad certificate)".into()
        }
        A::CertificateExpired => "the peer says our certificate has expired".into(),
        A::HandshakeFailure => {
            "handshake failure: no protocol version or cipher suite in common, or a certificate \
             was required"
                .into()
        }
        A::NoApplicationProtocol => "no ALPN protocol in common with the peer".into(),
        A::ProtocolVersion => "no TLS version in common with the peer".into(),
        a => format!("the peer sent the alert {a:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The bridge

/// A TLS stream made into a [`Conn`]: one end of a socket pair, with [`pump`] running
/// between the other end and the TLS stream.
fn bridge<S>(tls: S, label: String, framing: Option<crate::addr::Framing>) -> Result<Conn>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
    )
    .map_err(|e| Error::Tls(format!("{label}: socketpair: {e}")))?;
    let theirs = UnixStream::from_std(std::os::unix::net::UnixStream::from(theirs))
        .map_err(|e| Error::Tls(format!("{label}: {e}")))?;
    let ours = fdio::register(ours).map_err(|e| Error::Tls(format!("{label}: {e}")))?;
    let (stop, stopped) = oneshot::channel();
    let failure = Arc::new(Failure::default());
    let task = tokio::spawn(pump(tls, theirs, stopped, label.clone(), failure.clone()));
    let mut c = Conn::socket(
        label,
        ours,
        Medium::UnixStream,
        crate::addr::Transfer::Stream,
        framing,
    );
    c.holdings.tasks.push(super::Task {
        task,
        stop,
        failure,
    });
    Ok(c)
}

/// Which side of the pump an error came from: only the TLS side's are reported.
enum Side {
    Plain(io::Error),
    Tls(io::Error),
}

/// Copies plaintext between the socket pair and the TLS stream, both ways, until both ways
/// have ended. End of stream from the pair sends `close_notify` and shuts the socket's write
/// side; `close_notify` (or end of stream) from the peer shuts the pair's write side. When
/// the connection is closed (`stop` dropped), the way towards the pair ends at once (nobody
/// reads it any more) while the way towards the peer finishes what the pair still holds.
async fn pump<S>(
    tls: S,
    plain: UnixStream,
    stop: oneshot::Receiver<()>,
    label: String,
    failure: Arc<Failure>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut tls_rd, mut tls_wr) = tokio::io::split(tls);
    let (mut plain_rd, mut plain_wr) = plain.into_split();
    let out = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = plain_rd.read(&mut buf).await.map_err(Side::Plain)?;
            if n == 0 {
                narrate!("{label}: end of stream: tls close_notify, shutdown(SHUT_WR)");
                return tls_wr.shutdown().await.map_err(Side::Tls);
            }
            tls_wr.write_all(&buf[..n]).await.map_err(Side::Tls)?;
            tls_wr.flush().await.map_err(Side::Tls)?;
        }
    };
    let back = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match tls_rd.read(&mut buf).await {
                Ok(n) => n,
                // A peer that closes without close_notify: end of stream, as socat takes it.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(Side::Tls(e)),
            };
            if n == 0 {
                return plain_wr.shutdown().await.map_err(Side::Plain);
            }
            plain_wr.write_all(&buf[..n]).await.map_err(Side::Plain)?;
        }
    };
    let back = async {
        tokio::select! {
            r = back => r,
            _ = stop => Ok(()),
        }
    };
    match tokio::try_join!(out, back) {
        Ok(_) => {}
        Err(Side::Plain(e)) => narrate!("{label}: the relay's side: {e}"),
        Err(Side::Tls(e)) => match e.raw_os_error() {
            Some(libc::EPIPE | libc::ECONNRESET) => narrate!("{label}: {e}"),
            // Said at close, or by the verb (connect) whose run it ends.
            _ => failure.set(format!("{label}: tls: {}", describe(&e))),
        },
    }
}

/// Why a TLS connection's pump failed (an alert, a bad record), claimed by a verb whose run
/// it ends, to say as its error (rather than as a warning at close) after the relay ended as
/// if at end of stream.
pub fn claim_failure(conn: &Conn) -> Option<Arc<Failure>> {
    let f = conn.holdings.tasks.first()?.failure.clone();
    f.claim();
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_names_are_written_plainly() {
        assert_eq!(
            plain_name("DnsName(\"elsewhere.example\")"),
            "elsewhere.example"
        );
        assert_eq!(plain_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(plain_name("IpAddress(::1)"), "::1");
        assert_eq!(
            plain_name("UniformResourceIdentifier(\"spiffe://a/b\")"),
            "spiffe://a/b"
        );
        assert_eq!(plain_name("DirectoryName"), "DirectoryName");
        let wrong = describe_cert_error(&CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("localhost").unwrap(),
            presented: vec![
                "DnsName(\"elsewhere.example\")".into(),
                "IpAddress(192.0.2.1)".into(),
            ],
        });
        assert_eq!(
            wrong,
            "certificate is not valid for localhost (wrong host name; it is for \
             elsewhere.example, 192.0.2.1); sni=NAME checks another name"
        );
    }

    #[test]
    fn an_expired_certificate_says_until_when_it_was_valid() {
        let not_after = UnixTime::since_unix_epoch(Duration::from_secs(1_796_471_457));
        let e = describe_cert_error(&CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(1_796_557_857)),
            not_after,
        });
        assert_eq!(
            e,
            "certificate has expired (not valid after Dec  5 11:50:57 2026 +00:00)"
        );
    }
}
