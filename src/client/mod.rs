//! A small blocking RTMP(S) client, built on the same sans-IO core as the server.
//!
//! Tests, benchmarks and `rtmpsd-probe` use it to publish and play where ffmpeg cannot
//! be steered (exact bytes, hostile input, many connections). It is not a player: it
//! hands back whole messages and does no decoding.
//!
//! Enhanced RTMP: with `ClientOptions::caps_ex` set, `connect` declares every v2 FourCC
//! (CanForward, and `"*"`) and those capsEx bits, and the server's answer is kept
//! (`server_caps`). A client that declared Reconnect honours NetConnection.Connect.
//! ReconnectRequest: every message read (`recv`, or `poll_incoming` for a publisher that
//! only writes) is checked for one, `reconnect_request` says where to go, and `reconnect`
//! leaves this server and connects there (retrying while a restarting server comes back);
//! the caller sends `publish` or `play` again at its next keyframe.

mod detach;
mod synthetic;
mod url;

pub use detach::{DetachHandle, Detached, tls_config_with_suites};
pub use synthetic::{SyntheticStream, frame_index};
pub use url::RtmpUrl;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

use crate::rtmp::Timestamp;
use crate::rtmp::amf0::{self, Amf0Value, Amf0Writer, AmfLimits};
use crate::rtmp::chunk::{ChunkLimits, ChunkRead, ChunkReader, ChunkWriter, MessageHeader};
use crate::rtmp::enhanced::caps::write_client_caps;
use crate::rtmp::enhanced::{ConnectCaps, ReconnectRequest, fourcc_info, resolve_tc_url};
use crate::rtmp::handshake::{ClientHandshake, HandshakeStep, RANDOM_SIZE};
use crate::rtmp::message::{ControlMessage, MAX_CONTROL_LEN, UserControlEvent, type_id};

/// How the client connects.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Accept any server certificate (self-signed test servers). Never for production use.
    pub insecure: bool,
    /// Longest wait for any one reply or message.
    pub timeout: Duration,
    /// Send a digest-form C1, as librtmp and OBS do.
    pub digest_handshake: bool,
    /// Chunk size to announce and send with.
    pub chunk_size: u32,
    /// Declare enhanced RTMP in `connect` with these capsEx bits (`None`: a legacy client).
    pub caps_ex: Option<u32>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: false,
            timeout: Duration::from_secs(5),
            digest_handshake: true,
            chunk_size: 4096,
            caps_ex: None,
        }
    }
}

/// One whole message, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Message type id.
    pub type_id: u8,
    /// Timestamp.
    pub timestamp: Timestamp,
    /// Message stream id.
    pub stream_id: u32,
    /// Payload.
    pub payload: Vec<u8>,
}

impl Message {
    /// For a command message: its name and, for `onStatus`, the `code`.
    pub fn command(&self) -> Option<(String, Option<String>)> {
        if self.type_id != type_id::COMMAND_AMF0 {
            return None;
        }
        let values = amf0::decode_all(&self.payload, &AmfLimits::default()).ok()?;
        let name = values.first()?.as_str()?.to_string();
        let code = values
            .iter()
            .find_map(|v| v.get("code").and_then(|c| c.as_str()))
            .map(str::to_string);
        Some((name, code))
    }
}

/// Where a server asked this client to reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectTarget {
    /// The tcUrl to connect to (the request's, resolved against the current one, or the
    /// current one).
    pub tc_url: String,
    /// Why, as the server said.
    pub description: String,
}

trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

/// A connected RTMP(S) client.
pub struct Client {
    io: Box<dyn Io>,
    reader: ChunkReader,
    writer: ChunkWriter,
    input: Vec<u8>,
    input_len: usize,
    timeout: Duration,
    next_transaction: f64,
    stream_id: u32,
    url: RtmpUrl,
    /// The socket under `io`, to switch read timeouts for `poll_incoming`.
    tcp: Option<TcpStream>,
    server_caps: ConnectCaps,
    reconnect: Option<ReconnectTarget>,
}

const INPUT_BUFFER: usize = 64 * 1024;

impl Client {
    /// Connects: TCP, TLS for `rtmps`, the RTMP handshake, and `connect` to the URL's app.
    pub fn connect(url: &RtmpUrl, options: &ClientOptions) -> io::Result<Client> {
        let tcp = TcpStream::connect((url.host.as_str(), url.port))?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(options.timeout))?;
        tcp.set_write_timeout(Some(options.timeout))?;
        let handle = tcp.try_clone()?;
        let io: Box<dyn Io> = if url.tls {
            let config = tls_config(options.insecure);
            let name = ServerName::try_from(url.host.clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
            Box::new(StreamOwned::new(conn, tcp))
        } else {
            Box::new(tcp)
        };
        let mut client = Self::over(io, url, options)?;
        client.tcp = Some(handle);
        Ok(client)
    }

    /// Runs the RTMP handshake and `connect` over an already-open byte stream.
    fn over(mut io: Box<dyn Io>, url: &RtmpUrl, options: &ClientOptions) -> io::Result<Client> {
        let mut random = [0u8; RANDOM_SIZE];
        for (i, b) in random.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
        let mut handshake = if options.digest_handshake {
            ClientHandshake::new_digest(&random, 0)
        } else {
            ClientHandshake::new(&random, 0)
        };
        io.write_all(handshake.hello())?;
        let mut buf = vec![0u8; 4096];
        let mut held = 0;
        let leftover = loop {
            let n = io.read(&mut buf[held..])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            held += n;
            let mut pos = 0;
            let done = loop {
                match handshake.feed(&buf[pos..held]).map_err(bad_data)? {
                    HandshakeStep::NeedMore { consumed } => {
                        pos += consumed;
                        break false;
                    }
                    HandshakeStep::Reply { consumed, reply } => {
                        pos += consumed;
                        io.write_all(reply)?;
                    }
                    HandshakeStep::Done { consumed } => {
                        pos += consumed;
                        break true;
                    }
                }
            };
            buf.copy_within(pos..held, 0);
            held -= pos;
            if done {
                break buf[..held].to_vec();
            }
        };
        let mut input = vec![0u8; INPUT_BUFFER];
        input[..leftover.len()].copy_from_slice(&leftover);
        let mut client = Client {
            io,
            reader: ChunkReader::new(ChunkLimits {
                max_message_len: 64 << 20,
                max_chunk_size: 1 << 24,
                max_chunk_streams: 64,
                max_buffered_bytes: 128 << 20,
            }),
            writer: ChunkWriter::new(crate::rtmp::chunk::DEFAULT_CHUNK_SIZE),
            input,
            input_len: leftover.len(),
            timeout: options.timeout,
            next_transaction: 1.0,
            stream_id: 0,
            url: url.clone(),
            tcp: None,
            server_caps: ConnectCaps::default(),
            reconnect: None,
        };
        client.send_control(ControlMessage::SetChunkSize(options.chunk_size))?;
        client.writer = ChunkWriter::new(options.chunk_size);
        let tc_url = url.tc_url();
        let app = url.app.clone();
        let caps_ex = options.caps_ex;
        let txn = client.command("connect", |w| {
            w.object_start()?;
            w.property("app")?.string(&app)?;
            w.property("type")?.string("nonprivate")?;
            w.property("flashVer")?
                .string("FMLE/3.0 (compatible; rtmpsd-client)")?;
            w.property("tcUrl")?.string(&tc_url)?;
            if let Some(bits) = caps_ex {
                write_client_caps(w, fourcc_info::CAN_FORWARD, true, bits)?;
            }
            w.object_end()?;
            Ok(())
        })?;
        let reply = client.expect_result_payload(txn)?;
        let values = amf0::decode_all(&reply, &AmfLimits::default()).map_err(bad_data)?;
        if let Some(properties) = values.get(2) {
            client.server_caps = ConnectCaps::from_command_object(properties);
        }
        Ok(client)
    }

    /// What the server stated in its `connect` result (nothing, from a legacy server).
    pub fn server_caps(&self) -> &ConnectCaps {
        &self.server_caps
    }

    /// Where the server asked this client to reconnect, once it has (see `reconnect`).
    pub fn reconnect_request(&self) -> Option<&ReconnectTarget> {
        self.reconnect.as_ref()
    }

    /// Reads what the server sent without waiting for more (answering pings, noting a
    /// reconnect request); returns how many messages were read. For a publisher, which
    /// otherwise never reads.
    pub fn poll_incoming(&mut self) -> io::Result<usize> {
        let Some(tcp) = self.tcp.as_ref() else {
            return Ok(0);
        };
        // A socket that times out at once makes `recv` return as soon as nothing is left.
        tcp.set_read_timeout(Some(Duration::from_millis(1)))?;
        let mut read = 0;
        let outcome = loop {
            match self.recv() {
                Ok(_) => read += 1,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break Ok(read);
                }
                Err(e) => break Err(e),
            }
        };
        if let Some(tcp) = self.tcp.as_ref() {
            tcp.set_read_timeout(Some(self.timeout))?;
        }
        outcome
    }

    /// Leaves this server and connects where it asked (or, with no request, to the same URL),
    /// retrying for up to `within` while the server comes back; returns the new client,
    /// connected but not yet publishing or playing.
    ///
    /// The old connection is closed first: a server that restarts waits for it to go.
    pub fn reconnect(self, options: &ClientOptions, within: Duration) -> io::Result<Client> {
        let url = match &self.reconnect {
            Some(target) => {
                RtmpUrl::parse(&format!("{}/{}", target.tc_url, self.url.name)).map_err(bad_data)?
            }
            None => self.url.clone(),
        };
        drop(self);
        let deadline = Instant::now() + within;
        loop {
            match Client::connect(&url, options) {
                Ok(client) => return Ok(client),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Notes a reconnect request in a command message from the server.
    fn note_reconnect_request(&mut self, message: &Message) {
        if message.type_id != type_id::COMMAND_AMF0 || message.stream_id != 0 {
            return;
        }
        if let Ok(Some(request)) = ReconnectRequest::parse(&message.payload, &AmfLimits::default())
        {
            let current = self.url.tc_url();
            self.reconnect = Some(ReconnectTarget {
                tc_url: match request.tc_url {
                    Some(reference) => resolve_tc_url(&current, reference),
                    None => current,
                },
                description: request.description.unwrap_or_default().to_string(),
            });
        }
    }

    /// `releaseStream`, `FCPublish`, `createStream`, `publish`; waits for NetStream.Publish.Start.
    pub fn publish(&mut self) -> io::Result<()> {
        let name = self.url.name.clone();
        for command in ["releaseStream", "FCPublish"] {
            self.command(command, |w| {
                w.null()?.string(&name)?;
                Ok(())
            })?;
        }
        self.create_stream()?;
        let stream_id = self.stream_id;
        self.stream_command(stream_id, "publish", |w| {
            w.null()?.string(&name)?.string("live")?;
            Ok(())
        })?;
        self.expect_status("NetStream.Publish.Start")
    }

    /// `createStream`, `play`; waits for NetStream.Play.Start.
    pub fn play(&mut self) -> io::Result<()> {
        self.create_stream()?;
        let name = self.url.name.clone();
        let stream_id = self.stream_id;
        self.stream_command(stream_id, "play", |w| {
            w.null()?.string(&name)?.number(-2000.0)?;
            Ok(())
        })?;
        self.expect_status("NetStream.Play.Start")
    }

    /// Sends one media or data message on the published stream.
    pub fn send_media(
        &mut self,
        type_id: u8,
        timestamp: Timestamp,
        payload: &[u8],
    ) -> io::Result<()> {
        let chunk_stream_id = match type_id {
            type_id::AUDIO => 4,
            type_id::VIDEO => 6,
            _ => 5,
        };
        let header = MessageHeader {
            chunk_stream_id,
            timestamp,
            type_id,
            stream_id: self.stream_id,
        };
        self.send_message(&header, payload)
    }

    /// The next message from the server, answering pings on the way.
    pub fn recv(&mut self) -> io::Result<Message> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let mut pos = 0;
            let mut found = None;
            while found.is_none() {
                match self
                    .reader
                    .read(&self.input[pos..self.input_len])
                    .map_err(bad_data)?
                {
                    ChunkRead::NeedMore { consumed } => {
                        pos += consumed;
                        if consumed == 0 {
                            break;
                        }
                    }
                    ChunkRead::Message { consumed, message } => {
                        pos += consumed;
                        found = Some(Message {
                            type_id: message.header.type_id,
                            timestamp: message.header.timestamp,
                            stream_id: message.header.stream_id,
                            payload: message.payload.to_vec(),
                        });
                    }
                }
            }
            self.input.copy_within(pos..self.input_len, 0);
            self.input_len -= pos;
            if let Some(message) = found {
                self.note_reconnect_request(&message);
                if message.type_id == type_id::USER_CONTROL {
                    if let Ok(ControlMessage::UserControl(UserControlEvent::PingRequest(t))) =
                        ControlMessage::parse(message.type_id, &message.payload)
                    {
                        self.send_control(ControlMessage::UserControl(
                            UserControlEvent::PingResponse(t),
                        ))?;
                    }
                }
                return Ok(message);
            }
            if Instant::now() >= deadline {
                return Err(io::ErrorKind::TimedOut.into());
            }
            let n = self.io.read(&mut self.input[self.input_len..])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.input_len += n;
        }
    }

    /// The next audio, video or data message, skipping control and command messages.
    pub fn recv_media(&mut self) -> io::Result<Message> {
        loop {
            let message = self.recv()?;
            if matches!(
                message.type_id,
                type_id::AUDIO | type_id::VIDEO | type_id::DATA_AMF0
            ) {
                return Ok(message);
            }
        }
    }

    /// The message stream id `createStream` returned.
    pub fn stream_id(&self) -> u32 {
        self.stream_id
    }

    fn create_stream(&mut self) -> io::Result<()> {
        let txn = self.command("createStream", |w| {
            w.null()?;
            Ok(())
        })?;
        let values = self.expect_result(txn)?;
        self.stream_id = values
            .iter()
            .rev()
            .find_map(|v| v.as_number())
            .map(|n| n as u32)
            .ok_or_else(|| bad_data("createStream result without a stream id"))?;
        Ok(())
    }

    /// Sends a NetConnection command; returns its transaction id.
    fn command(
        &mut self,
        name: &str,
        args: impl FnOnce(&mut Amf0Writer<'_>) -> Result<(), amf0::AmfError>,
    ) -> io::Result<f64> {
        let txn = self.next_transaction;
        self.next_transaction += 1.0;
        self.write_command(0, name, txn, args)?;
        Ok(txn)
    }

    fn stream_command(
        &mut self,
        stream_id: u32,
        name: &str,
        args: impl FnOnce(&mut Amf0Writer<'_>) -> Result<(), amf0::AmfError>,
    ) -> io::Result<()> {
        self.write_command(stream_id, name, 0.0, args)
    }

    fn write_command(
        &mut self,
        stream_id: u32,
        name: &str,
        txn: f64,
        args: impl FnOnce(&mut Amf0Writer<'_>) -> Result<(), amf0::AmfError>,
    ) -> io::Result<()> {
        let mut buf = [0u8; 2048];
        let mut w = Amf0Writer::new(&mut buf);
        w.string(name)
            .map_err(bad_data)?
            .number(txn)
            .map_err(bad_data)?;
        args(&mut w).map_err(bad_data)?;
        let len = w.len();
        let header = MessageHeader {
            chunk_stream_id: if stream_id == 0 { 3 } else { 8 },
            timestamp: Timestamp::ZERO,
            type_id: type_id::COMMAND_AMF0,
            stream_id,
        };
        self.send_message(&header, &buf[..len])
    }

    fn send_control(&mut self, message: ControlMessage) -> io::Result<()> {
        let mut buf = [0u8; MAX_CONTROL_LEN];
        let len = message.encode(&mut buf);
        let header = MessageHeader {
            chunk_stream_id: 2,
            timestamp: Timestamp::ZERO,
            type_id: message.type_id(),
            stream_id: 0,
        };
        self.send_message(&header, &buf[..len])
    }

    fn send_message(&mut self, header: &MessageHeader, payload: &[u8]) -> io::Result<()> {
        let mut out = Vec::with_capacity(self.writer.encoded_len(header, payload.len()));
        self.writer.write_to_vec(header, payload, &mut out);
        self.io.write_all(&out)?;
        self.io.flush()
    }

    /// Waits for `_result` (or `_error`) of transaction `txn`; returns its values as owned numbers.
    fn expect_result(&mut self, txn: f64) -> io::Result<Vec<Amf0Value<'static>>> {
        let payload = self.expect_result_payload(txn)?;
        let values = amf0::decode_all(&payload, &AmfLimits::default()).map_err(bad_data)?;
        // Only numbers are needed by callers; keep them owned.
        Ok(values
            .iter()
            .filter_map(|v| v.as_number())
            .map(Amf0Value::Number)
            .collect())
    }

    /// Waits for `_result` (or `_error`) of transaction `txn`; returns its payload.
    fn expect_result_payload(&mut self, txn: f64) -> io::Result<Vec<u8>> {
        loop {
            let message = self.recv()?;
            if message.type_id != type_id::COMMAND_AMF0 {
                continue;
            }
            let values =
                amf0::decode_all(&message.payload, &AmfLimits::default()).map_err(bad_data)?;
            let name = values.first().and_then(|v| v.as_str()).unwrap_or_default();
            let id = values.get(1).and_then(|v| v.as_number());
            if id != Some(txn) {
                continue;
            }
            if name == "_error" {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "server answered _error",
                ));
            }
            return Ok(message.payload);
        }
    }

    fn expect_status(&mut self, wanted: &str) -> io::Result<()> {
        loop {
            let message = self.recv()?;
            if let Some((name, Some(code))) = message.command() {
                if name != "onStatus" {
                    continue;
                }
                if code == wanted {
                    return Ok(());
                }
                if code.contains("Reset") || code.contains("Notify") {
                    continue;
                }
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("server said {code}"),
                ));
            }
        }
    }
}

fn bad_data(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// The client's TLS configuration: `insecure` accepts any certificate (self-signed test
/// servers; never for production use), otherwise an empty root store.
pub fn tls_config(insecure: bool) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    };
    Arc::new(config)
}

/// Accepts every certificate but still checks handshake signatures: for self-signed test servers.
#[derive(Debug)]
pub struct AcceptAnyCertificate(pub Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
