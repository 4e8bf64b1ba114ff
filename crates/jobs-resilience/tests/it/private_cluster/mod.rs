//! A private Redis Cluster for a test that kills its nodes: six redis-server processes (three
//! masters, one replica each, AOF everysec, node timeout 2 s) on free ports under a temporary
//! directory, made a cluster with `redis-cli --cluster create`, killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli must be on PATH for this test (apt-get install redis-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One cluster node on `port` (its bus on `bus`), data and nodes.conf under `dir`.
pub fn start_node(port: u16, bus: u16, dir: &Path) -> Child {
    std::fs::create_dir_all(dir).expect("node dir");
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            &bus.to_string(),
        ])
        .args(["--cluster-node-timeout", "2000"])
        .arg("--cluster-config-file")
        .arg(dir.join("nodes.conf"))
        .args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be on PATH for this test (apt-get install redis-server)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while cli(port, &["PING"]).trim() != "PONG" {
        assert!(Instant::now() < deadline, "node {port} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

pub fn cluster_ok(port: u16) -> bool {
    cli(port, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
}

/// The port of the master serving `slot`, from CLUSTER NODES as `port` sees it.
pub fn master_of(port: u16, slot: u16) -> Option<u16> {
    cli(port, &["CLUSTER", "NODES"]).lines().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let flags = fields.get(2)?;
        if !flags.contains("master") || flags.contains("fail") {
            return None;
        }
        let serves = fields.iter().skip(8).any(|range| {
            let (from, to) = range.split_once('-').unwrap_or((range, range));
            matches!((from.parse::<u16>(), to.parse::<u16>()), (Ok(a), Ok(b)) if a <= slot && slot <= b)
        });
        let address = fields.get(1)?.split('@').next()?;
        serves.then(|| address.rsplit_once(':')?.1.parse().ok())?
    })
}

/// The private cluster: six nodes, killed when the test ends.
pub struct Cluster {
    /// Port, cluster bus port and process of each node.
    pub nodes: Vec<(u16, u16, Child)>,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let nodes: Vec<(u16, u16, Child)> = (0..6)
            .map(|i| {
                let (port, bus) = (free_port(), free_port());
                let child = start_node(port, bus, &dir.path().join(i.to_string()));
                (port, bus, child)
            })
            .collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(nodes.iter().map(|(port, _, _)| format!("127.0.0.1:{port}")))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(created.status.success(), "{created:?}");
        let cluster = Self { nodes, dir };
        cluster.wait_until_ok();
        cluster
    }

    /// Until every node sees the cluster ok and every replica is in sync with its master (a
    /// replica that never synced may not take over).
    pub fn wait_until_ok(&self) {
        let synced = |port: u16| {
            let info = cli(port, &["INFO", "replication"]);
            info.contains("role:master") || info.contains("master_link_status:up")
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self
            .nodes
            .iter()
            .all(|(port, _, _)| cluster_ok(*port) && synced(*port))
        {
            assert!(Instant::now() < deadline, "the cluster is not ok");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.nodes[0].0)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, _, child) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
