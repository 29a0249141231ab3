//! A TCP proxy for fault tests, in front of the real PostgreSQL: it can be
//! switched to `Frozen` (connections are accepted, bytes are read and held, and
//! nothing is forwarded: a database that stops answering) and `Down` (new
//! connections are closed at once and existing ones dropped: a database that
//! is gone). The shared cluster itself is never stopped.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Open,
    Frozen,
    Down,
}

pub struct Proxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy on 127.0.0.1:0 forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, rx) = watch::channel(Mode::Open);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if *rx.borrow() == Mode::Down {
                    drop(client);
                    continue;
                }
                let rx = rx.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pump(client_read, server_write, rx.clone()),
                        pump(server_read, client_write, rx),
                    );
                });
            }
        });
        Self { addr, mode, task }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// `url` (a PostgreSQL URL) with its host and port replaced by the proxy's.
    pub fn url_for(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.addr.port())).unwrap();
        url.to_string()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.mode.send_replace(Mode::Down);
    }
}

/// Copies one direction; while frozen, what was read is held; when down, both
/// halves are dropped (the peers see the connection close).
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut down = mode.clone();
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = down.wait_for(|m| *m == Mode::Down) => return,
        };
        match mode.wait_for(|m| *m != Mode::Frozen).await {
            Ok(m) if *m == Mode::Open => {}
            _ => return,
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
