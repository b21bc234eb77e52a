//! Taking a connection back out of the blocking [`Client`] after set-up.
//!
//! A load tool that plays hundreds of streams cannot give each its own blocking thread
//! without the tool costing more than the server it measures. It sets each player up here
//! with the ordinary client (TCP, TLS, RTMP handshake, `connect`, `createStream`), sends
//! `play`, and takes the socket, the rustls connection and the chunk reader's state back out
//! to drive them from a few non-blocking threads.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned, SupportedCipherSuite};

use super::{AcceptAnyCertificate, Client, ClientOptions, RtmpUrl};
use crate::rtmp::chunk::ChunkReader;

/// The byte stream under a detachable client, shared with its [`DetachHandle`].
enum Pipe {
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    Plain(TcpStream),
}

type SharedPipe = Arc<Mutex<Option<Pipe>>>;

fn lock(pipe: &SharedPipe) -> MutexGuard<'_, Option<Pipe>> {
    pipe.lock().unwrap_or_else(|p| p.into_inner())
}

/// The client's view of the shared pipe; fails once the pipe has been taken out.
struct PipeIo(SharedPipe);

fn detached() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection was detached")
}

impl Read for PipeIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match lock(&self.0).as_mut() {
            Some(Pipe::Tls(s)) => s.read(buf),
            Some(Pipe::Plain(s)) => s.read(buf),
            None => Err(detached()),
        }
    }
}

impl Write for PipeIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match lock(&self.0).as_mut() {
            Some(Pipe::Tls(s)) => s.write(buf),
            Some(Pipe::Plain(s)) => s.write(buf),
            None => Err(detached()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match lock(&self.0).as_mut() {
            Some(Pipe::Tls(s)) => s.flush(),
            Some(Pipe::Plain(s)) => s.flush(),
            None => Err(detached()),
        }
    }
}

/// Lets [`Client::detach`] take the connection back out of the client it came with.
pub struct DetachHandle(SharedPipe);

/// A set-up connection taken out of a [`Client`], ready for non-blocking use.
pub struct Detached {
    /// The socket (still in blocking mode, with the client's timeouts).
    pub tcp: TcpStream,
    /// The TLS connection for `rtmps`, with any records it already decrypted.
    pub tls: Option<ClientConnection>,
    /// The chunk reader, with the server's chunk size and chunk stream state.
    pub reader: ChunkReader,
    /// Plaintext read from the connection and not yet given to `reader`.
    pub unread: Vec<u8>,
    /// The message stream id `createStream` returned.
    pub stream_id: u32,
}

impl Client {
    /// Connects like [`Client::connect`], with the caller's TLS configuration, in a form
    /// [`Client::detach`] can take apart again.
    pub fn connect_detachable(
        url: &RtmpUrl,
        options: &ClientOptions,
        tls: Arc<ClientConfig>,
    ) -> io::Result<(Client, DetachHandle)> {
        let tcp = TcpStream::connect((url.host.as_str(), url.port))?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(options.timeout))?;
        tcp.set_write_timeout(Some(options.timeout))?;
        let pipe = if url.tls {
            let name = ServerName::try_from(url.host.clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let conn = ClientConnection::new(tls, name).map_err(io::Error::other)?;
            Pipe::Tls(Box::new(StreamOwned::new(conn, tcp)))
        } else {
            Pipe::Plain(tcp)
        };
        let shared: SharedPipe = Arc::new(Mutex::new(Some(pipe)));
        let client = Self::over(Box::new(PipeIo(shared.clone())), url, options)?;
        Ok((client, DetachHandle(shared)))
    }

    /// `createStream` and `play`, without waiting for the answer: the caller reads
    /// NetStream.Play.Start and the media that follows itself (after [`Client::detach`]).
    pub fn send_play(&mut self) -> io::Result<()> {
        self.create_stream()?;
        let name = self.url.name.clone();
        let stream_id = self.stream_id;
        self.stream_command(stream_id, "play", |w| {
            w.null()?.string(&name)?.number(-2000.0)?;
            Ok(())
        })
    }

    /// Takes the connection out of this client (made by [`Client::connect_detachable`]).
    pub fn detach(self, handle: DetachHandle) -> io::Result<Detached> {
        let Client {
            io,
            reader,
            input,
            input_len,
            stream_id,
            ..
        } = self;
        drop(io);
        let pipe = lock(&handle.0).take().ok_or_else(detached)?;
        let (tcp, tls) = match pipe {
            Pipe::Tls(stream) => {
                let StreamOwned { conn, sock } = *stream;
                (sock, Some(conn))
            }
            Pipe::Plain(tcp) => (tcp, None),
        };
        Ok(Detached {
            tcp,
            tls,
            reader,
            unread: input.get(..input_len).unwrap_or_default().to_vec(),
            stream_id,
        })
    }
}

/// A client TLS configuration offering only `suites` (e.g. one AEAD, to measure it), with
/// the same certificate handling as [`super::tls_config`].
pub fn tls_config_with_suites(
    insecure: bool,
    suites: Vec<SupportedCipherSuite>,
) -> io::Result<Arc<ClientConfig>> {
    let base = rustls::crypto::ring::default_provider();
    let provider = Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: suites,
        ..base
    });
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?;
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
    Ok(Arc::new(config))
}
