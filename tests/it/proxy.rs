//! A fault-injecting TCP proxy between an agent and the cloud: it passes traffic through, or
//! refuses connections, stalls them, cuts the connection after the request reached the cloud
//! (so the response is lost), or trickles bytes slowly. Tests switch the fault while traffic
//! flows.
#![allow(dead_code)] // Used by the sync tests; each fault is not used by every test.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Everything passes.
    None,
    /// Connections are accepted and closed at once (the client sees a reset).
    Refuse,
    /// Connections are accepted and then nothing happens until the fault changes.
    Stall,
    /// The request reaches the cloud; the connection is cut before the response gets back.
    CutResponse,
    /// Both directions pass a few bytes at a time, slowly.
    Trickle,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    upstream: Arc<Mutex<SocketAddr>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on a free port in front of `upstream`.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let fault = Arc::new(Mutex::new(Fault::None));
        let upstream = Arc::new(Mutex::new(upstream));
        let (shared, target) = (fault.clone(), upstream.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let fault = shared.clone();
                let upstream = *target.lock().expect("upstream lock");
                tokio::spawn(async move { handle(client, upstream, fault).await });
            }
        });
        FaultProxy { addr, fault, upstream, task }
    }

    /// Points new connections at another address (a restarted cloud listens on a new port).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.upstream.lock().expect("upstream lock") = upstream;
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, fault: Fault) {
        *self.fault.lock().expect("fault lock") = fault;
    }

    fn current(fault: &Arc<Mutex<Fault>>) -> Fault {
        *fault.lock().expect("fault lock")
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(client: TcpStream, upstream: SocketAddr, fault: Arc<Mutex<Fault>>) {
    match FaultProxy::current(&fault) {
        Fault::Refuse => {
            drop(client);
        }
        Fault::Stall => {
            // Hold the connection without reading until the fault is lifted, then drop it.
            while FaultProxy::current(&fault) == Fault::Stall {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Fault::None | Fault::CutResponse | Fault::Trickle => {
            let Ok(server) = TcpStream::connect(upstream).await else { return };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            // The fault is read again for every chunk, so a change reaches connections that
            // are already open (clients keep connections alive between requests).
            tokio::join!(
                pump(client_read, server_write, fault.clone(), false),
                pump(server_read, client_write, fault.clone(), true),
            );
        }
    }
}

/// Copies one direction until either side closes or the fault says to cut.
async fn pump<R, W>(mut from: R, mut to: W, fault: Arc<Mutex<Fault>>, is_response: bool)
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut mode = FaultProxy::current(&fault);
        while mode == Fault::Stall {
            tokio::time::sleep(Duration::from_millis(50)).await;
            mode = FaultProxy::current(&fault);
        }
        match mode {
            Fault::Refuse => break,
            // The cloud has answered, so it processed the request: lose the answer.
            Fault::CutResponse if is_response => break,
            _ => {}
        }
        if write_out(&mut to, &buffer[..n], mode == Fault::Trickle).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

async fn write_out<W: AsyncWriteExt + Unpin>(out: &mut W, bytes: &[u8], trickle: bool) -> std::io::Result<()> {
    if !trickle {
        return out.write_all(bytes).await;
    }
    for chunk in bytes.chunks(256) {
        out.write_all(chunk).await?;
        out.flush().await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}
