//! Connection admission: `max.connections` (broker-wide) and `max.connections.per.ip`.
//!
//! Connections are accepted on every core (SO_REUSEPORT), so the counts are process-wide: one
//! atomic for the total, and a small map of per-address counts that is only touched when a
//! per-address limit is configured. A connection over a limit is closed right after accept, as
//! Kafka closes connections over `max.connections.per.ip`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max.connections` connections are open.
    MaxConnections,
    /// `max.connections.per.ip` connections from the peer's address are open.
    MaxConnectionsPerIp,
}

impl Refusal {
    /// The metric label of the refusal.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::MaxConnections => "max_connections",
            Refusal::MaxConnectionsPerIp => "max_connections_per_ip",
        }
    }
}

/// Open-connection counts shared by every core.
#[derive(Debug, Default)]
pub struct Admission {
    open: AtomicUsize,
    /// Connections per address; entries go when their count reaches 0, so the map never holds
    /// more entries than there are open connections.
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; dropping it gives its place back.
#[derive(Debug)]
pub struct Ticket<'a> {
    admission: &'a Admission,
    ip: Option<IpAddr>,
}

impl Admission {
    /// The process-wide counts (one broker per process).
    pub fn global() -> &'static Admission {
        static GLOBAL: OnceLock<Admission> = OnceLock::new();
        GLOBAL.get_or_init(Admission::default)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Admits a connection from `peer` under the limits, or says why not. `max_per_ip` at or
    /// above `max` (the default) costs no lock.
    pub fn admit(
        &self,
        peer: Option<IpAddr>,
        max: usize,
        max_per_ip: usize,
    ) -> Result<Ticket<'_>, Refusal> {
        let prev = self.open.fetch_add(1, Ordering::Relaxed);
        if prev >= max {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return Err(Refusal::MaxConnections);
        }
        let mut ticket = Ticket {
            admission: self,
            ip: None,
        };
        if let (Some(ip), true) = (peer, max_per_ip < max) {
            let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
            let n = map.entry(ip).or_insert(0);
            if *n >= max_per_ip {
                if *n == 0 {
                    map.remove(&ip);
                }
                return Err(Refusal::MaxConnectionsPerIp);
            }
            *n += 1;
            ticket.ip = Some(ip);
        }
        Ok(ticket)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut map = self
                .admission
                .per_ip
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(n) = map.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
        self.admission.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_total_and_per_address() {
        let a = Admission::default();
        let x: IpAddr = "10.0.0.1".parse().unwrap();
        let y: IpAddr = "10.0.0.2".parse().unwrap();
        let t1 = a.admit(Some(x), 3, 1).unwrap();
        assert_eq!(
            a.admit(Some(x), 3, 1).unwrap_err(),
            Refusal::MaxConnectionsPerIp
        );
        let t2 = a.admit(Some(y), 3, 1).unwrap();
        let t3 = a.admit(None, 3, 1).unwrap();
        assert_eq!(a.admit(None, 3, 1).unwrap_err(), Refusal::MaxConnections);
        assert_eq!(a.open(), 3);
        drop(t1);
        let t4 = a.admit(Some(x), 3, 1).unwrap();
        drop((t2, t3, t4));
        assert_eq!(a.open(), 0);
        assert!(a.per_ip.lock().unwrap().is_empty());
    }
}
