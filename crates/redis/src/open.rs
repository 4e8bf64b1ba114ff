//! Opening the connection to REDIS_URL: a single Redis (or a replication group's primary) or a
//! Redis Cluster, plain (`redis://`) or TLS (`rediss://`), with the password (and ACL user) of the
//! URL; and where a pub/sub connection may go.
//!
//! TLS is rustls through the redis crate's own feature. The authorities trusted are the
//! system's (rustls-native-certs), which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`: the
//! production image carries Debian's bundle, to which ElastiCache's certificates chain, and a
//! test or private deployment names its own authority there. A certificate that does not verify
//! is an error, never a plaintext retry.

use std::time::Duration;

use anyhow::Context;
use redis::aio::ConnectionManagerConfig;

use crate::RedisConn;

/// How long connecting and each answer may take before the command fails (and the connection
/// is made again): a Redis that went away shows as errors within seconds, not a hang.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The server is not of the kind the settings say (a cluster node without cluster mode set, or
/// the reverse): the process must not start.
#[derive(Debug)]
pub struct ModeMismatch(pub String);

impl std::fmt::Display for ModeMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModeMismatch {}

/// Where a pub/sub connection may be opened: the URL's server and, on a cluster, every node the
/// cluster lists now (a classic subscription on any node receives what is published on any
/// other), so that a subscriber whose node died finds another. Same credentials and TLS as the
/// URL; a node announcing a host name is reached by it (TLS certificates name hosts).
pub async fn pubsub_servers(client: &redis::Client, conn: &RedisConn) -> Vec<redis::Client> {
    let mut servers = vec![client.clone()];
    if !conn.is_cluster() {
        return servers;
    }
    let Ok(nodes) = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async::<String>(&mut conn.clone())
        .await
    else {
        return servers;
    };
    for line in nodes.lines() {
        let mut fields = line.split(' ');
        let (Some(_), Some(address), Some(flags)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if flags.contains("fail") || flags.contains("noaddr") {
            continue;
        }
        // ip:port@bus-port[,hostname]
        let (ip_port, rest) = address.split_once('@').unwrap_or((address, ""));
        let Some((ip, port)) = ip_port.rsplit_once(':') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        let host = rest
            .split_once(',')
            .map(|(_, h)| h)
            .filter(|h| !h.is_empty())
            .unwrap_or(ip)
            .to_owned();
        let info = client.get_connection_info().clone();
        let addr = match info.addr() {
            redis::ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => redis::ConnectionAddr::TcpTls {
                host,
                port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => redis::ConnectionAddr::Tcp(host, port),
        };
        if let Ok(node) = redis::Client::open(info.set_addr(addr)) {
            servers.push(node);
        }
    }
    servers
}

/// rustls needs one process-wide crypto provider, and this build links two (ring, which sqlx
/// uses, and aws-lc-rs, which the S3 client brings): without a choice, the first TLS handshake
/// would panic. Installs ring unless the process already chose.
fn choose_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have installed one meanwhile: either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Connects to `url`, checks that the server answers and that it is a cluster exactly when
/// `cluster` says so, and returns a client (for pub/sub, which needs a connection of its own)
/// with the shared connection. A certificate that does not verify, a wrong password or an
/// unreachable server is the error; a [`ModeMismatch`] when the kinds disagree.
pub async fn open(url: &str, cluster: bool) -> anyhow::Result<(redis::Client, RedisConn)> {
    choose_crypto_provider();
    let client = redis::Client::open(url).context("not a Redis URL")?;
    // One plain connection first: TLS, AUTH and the server's kind are checked here, once,
    // with a clear error, before any client that retries.
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let mut probe = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .context("cannot connect")?;
    let info: String = redis::cmd("INFO")
        .arg("cluster")
        .query_async(&mut probe)
        .await
        .context("does not answer INFO")?;
    let is_cluster = info.lines().any(|l| l.trim() == "cluster_enabled:1");
    match (cluster, is_cluster) {
        (true, false) => {
            return Err(ModeMismatch(
                "is true, but REDIS_URL is a Redis without cluster mode (cluster_enabled:0)".into(),
            )
            .into());
        }
        (false, true) => {
            return Err(ModeMismatch(
                "REDIS_URL is a Redis Cluster node (cluster_enabled:1): set REDIS_CLUSTER=true"
                    .into(),
            )
            .into());
        }
        _ => {}
    }
    let conn = if cluster {
        let cluster = redis::cluster::ClusterClientBuilder::new(vec![url])
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .build()
            .context("not a Redis Cluster URL")?
            .get_async_connection()
            .await
            .context("cannot connect to the cluster")?;
        RedisConn::Cluster(cluster)
    } else {
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_max_delay(Duration::from_secs(1));
        let manager = client
            .get_connection_manager_with_config(config)
            .await
            .context("cannot connect")?;
        RedisConn::Single(manager)
    };
    Ok((client, conn))
}

#[cfg(test)]
mod tests {
    use crate::testing::{Backend, connect, url};

    /// On a cluster a subscriber may go to any of the six nodes; on a single Redis only there.
    #[tokio::test]
    async fn pubsub_servers_are_every_node_of_a_cluster() {
        let (client, conn) = connect(Backend::Cluster).await;
        let servers = super::pubsub_servers(&client, &conn).await;
        assert_eq!(
            servers.len(),
            7,
            "the URL's node and the six the cluster lists"
        );
        for server in servers {
            let mut node = server
                .get_multiplexed_async_connection()
                .await
                .expect("a node answers");
            let pong: String = redis::cmd("PING")
                .query_async(&mut node)
                .await
                .expect("PING");
            assert_eq!(pong, "PONG");
        }
        let (client, conn) = connect(Backend::Tls).await;
        assert_eq!(super::pubsub_servers(&client, &conn).await.len(), 1);
    }

    /// An ACL user and its password in the URL (`rediss://user:password@host`), on TLS.
    #[tokio::test]
    async fn an_acl_user_of_the_url_is_authenticated() {
        let (_, mut admin) = connect(Backend::Tls).await;
        let user = format!("test-{}", uuid::Uuid::new_v4().simple());
        let _: () = redis::cmd("ACL")
            .arg(&[
                "SETUSER",
                &user,
                "on",
                ">user-password",
                "~*",
                "&*",
                "+@all",
            ])
            .query_async(&mut admin)
            .await
            .expect("user made");
        let base = url(Backend::Tls);
        let (scheme, rest) = base.split_once("://").expect("a URL");
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let (_, mut conn) = super::open(&format!("{scheme}://{user}:user-password@{host}"), false)
            .await
            .expect("connected as the ACL user");
        let me: String = redis::cmd("ACL")
            .arg("WHOAMI")
            .query_async(&mut conn)
            .await
            .expect("answered");
        let wrong = super::open(&format!("{scheme}://{user}:not-it@{host}"), false).await;
        let _: i64 = redis::cmd("ACL")
            .arg(&["DELUSER", &user])
            .query_async(&mut admin)
            .await
            .expect("user removed");
        assert_eq!(me, user);
        let error = format!("{:#}", wrong.expect_err("a wrong password is refused"));
        assert!(error.contains("authentication failed"), "{error}");
    }
}
