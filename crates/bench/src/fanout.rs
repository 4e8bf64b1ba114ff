//! Parts of the WebSocket benchmark clients (`ws-fanout`, and `ws-idle` for the first three)
//! that stand alone.

use std::net::Ipv4Addr;

use anyhow::{Context, bail};
use chrono::Utc;
use dragoman_domain::{Role, UserId};
use dragoman_http::auth::Tokens;

/// The server kind a client speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Dragoman,
    Ws,
    SocketIo,
}

impl Protocol {
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "dragoman" => Self::Dragoman,
            "ws" => Self::Ws,
            "socketio" => Self::SocketIo,
            other => bail!("unknown protocol {other}: dragoman, ws or socketio"),
        })
    }
}

/// The path a client upgrades on: Dragoman's with a fresh access token of a user of its own, or
/// the peer's.
pub fn upgrade_path(tokens: Option<&Tokens>, protocol: Protocol) -> anyhow::Result<String> {
    Ok(match (tokens, protocol) {
        (Some(t), _) => {
            let token = t
                .issue_access(UserId(uuid::Uuid::new_v4()), Role::Client, Utc::now())
                .map_err(|e| anyhow::anyhow!("signing: {e:?}"))?;
            format!("/v1/ws?access_token={token}")
        }
        (None, Protocol::SocketIo) => "/socket.io/?EIO=4&transport=websocket".to_owned(),
        (None, _) => "/".to_owned(),
    })
}

/// The n-th source address: 127.1.0.1, 127.1.0.2, ... skipping .0 and .255, so that each
/// address needs few ephemeral ports.
pub fn source(n: usize) -> Ipv4Addr {
    let host = (n / 250) as u32;
    let last = (n % 250) as u8 + 1;
    Ipv4Addr::new(127, 1 + (host / 256) as u8, (host % 256) as u8, last)
}

/// The publisher's `"sent_us":<integer>` in a received frame, wherever the frame's format puts
/// it (Dragoman's frame, the same text relayed by ws, or a Socket.IO event packet).
pub fn sent_us(text: &str) -> Option<u64> {
    const FIELD: &str = "\"sent_us\":";
    let start = text.find(FIELD)? + FIELD.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// User and system CPU time of a process so far, in clock ticks (`/proc/PID/stat` fields 14
/// and 15).
pub fn cpu_ticks(pid: u32) -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat).with_context(|| format!("parsing /proc/{pid}/stat"))
}

fn parse_cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    // The command name (field 2) is in parentheses and may hold spaces: count from its end.
    let (_, after) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime, stime))
}

/// Latency samples, sorted once.
#[derive(Debug)]
pub struct Stats(Vec<u64>);

impl Stats {
    pub fn new(mut samples: Vec<u64>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// The nearest-rank percentile (100 is the maximum); 0 without samples.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_stamp_in_each_servers_frame() {
        let dragoman = r#"{"at":"2026-01-01T00:00:00.000Z","data":{"code":"es","sent_us":1234567,"seq":3},"id":null,"type":"availability.changed"}"#;
        let socket_io = r#"42["availability.changed",{"code":"es","sent_us":99}]"#;
        assert_eq!(sent_us(dragoman), Some(1_234_567));
        assert_eq!(sent_us(socket_io), Some(99));
        assert_eq!(sent_us("2"), None);
        assert_eq!(sent_us(r#"{"sent_us":}"#), None);
    }

    #[test]
    fn reads_cpu_ticks_past_a_command_name_with_spaces() {
        let stat = "4242 (node a) b) S 1 4242 4242 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 11 0";
        assert_eq!(parse_cpu_ticks(stat), Some((150, 25)));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
        cpu_ticks(std::process::id()).expect("this process's own stat parses");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let stats = Stats::new((1..=200).rev().collect());
        assert_eq!(stats.count(), 200);
        assert_eq!(stats.percentile(50.0), 100);
        assert_eq!(stats.percentile(99.0), 198);
        assert_eq!(stats.percentile(100.0), 200);
        assert_eq!(Stats::new(Vec::new()).percentile(99.0), 0);
    }

    #[test]
    fn names_the_three_protocols() {
        assert_eq!(Protocol::parse("socketio").ok(), Some(Protocol::SocketIo));
        assert!(Protocol::parse("mqtt").is_err());
        assert_eq!(source(0), Ipv4Addr::new(127, 1, 0, 1));
        assert_eq!(source(251), Ipv4Addr::new(127, 1, 1, 2));
    }
}
