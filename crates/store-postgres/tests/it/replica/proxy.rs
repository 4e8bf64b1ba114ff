//! A TCP relay to the replica that a test can cut and restore, to see the store lose its replica
//! and get it back without stopping the replica every other test shares.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Relay {
    pub port: u16,
    to: SocketAddr,
    /// The accepting task and one task per relayed connection: aborted together to cut.
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    /// Relays a new port to `to`.
    pub async fn start(to: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("bound").port();
        let relay = Self {
            port,
            to,
            tasks: Arc::default(),
        };
        relay.serve(listener);
        relay
    }

    fn serve(&self, listener: TcpListener) {
        let to = self.to;
        let tasks = self.tasks.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let relayed = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(to).await {
                        tokio::io::copy_bidirectional(&mut client, &mut server)
                            .await
                            .ok();
                    }
                });
                if let Ok(mut t) = tasks.lock() {
                    t.push(relayed);
                }
            }
        });
        if let Ok(mut t) = self.tasks.lock() {
            t.push(accepting);
        }
    }

    /// Closes the port and every relayed connection: the replica is gone for the store.
    pub fn cut(&self) {
        if let Ok(mut t) = self.tasks.lock() {
            for task in t.drain(..) {
                task.abort();
            }
        }
    }

    /// Listens on the same port again.
    pub async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("the relay's port again");
        self.serve(listener);
    }
}
