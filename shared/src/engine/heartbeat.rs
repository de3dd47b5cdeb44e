//! Heartbeat state machines: when to ping, and when a silent peer counts as gone.
//!
//! Time is an argument: `now` is the time since any fixed origin the driver picks
//! (tokio's `Instant`, the browser's `performance.now()`), as a [`Duration`].

use std::time::Duration;

/// What a heartbeat asks its driver to do after [`ServerHeartbeat::poll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatAction {
    /// Nothing is due before [`ServerHeartbeat::deadline`].
    Wait,
    /// Send a ping packet now.
    SendPing,
    /// The peer did not answer in time: close with reason "ping timeout".
    TimedOut,
}

/// The server side: ping every `ping_interval`; after each ping, expect a pong within
/// `ping_timeout`.
#[derive(Debug, Clone)]
pub struct ServerHeartbeat {
    ping_interval: Duration,
    ping_timeout: Duration,
    state: ServerState,
}

#[derive(Debug, Clone, Copy)]
enum ServerState {
    /// The next ping goes out at this time.
    Idle { ping_at: Duration },
    /// A ping went out; a pong is due by this time.
    AwaitingPong { deadline: Duration },
    /// The peer timed out; nothing more happens.
    Expired,
}

impl ServerHeartbeat {
    /// Starts the heartbeat of a connection opened at `now`.
    pub fn new(ping_interval: Duration, ping_timeout: Duration, now: Duration) -> Self {
        ServerHeartbeat {
            ping_interval,
            ping_timeout,
            state: ServerState::Idle {
                ping_at: now + ping_interval,
            },
        }
    }

    /// The next time [`ServerHeartbeat::poll`] has something to do, if any.
    pub fn deadline(&self) -> Option<Duration> {
        match self.state {
            ServerState::Idle { ping_at } => Some(ping_at),
            ServerState::AwaitingPong { deadline } => Some(deadline),
            ServerState::Expired => None,
        }
    }

    /// Advances to `now` and says what is due.
    pub fn poll(&mut self, now: Duration) -> HeartbeatAction {
        match self.state {
            ServerState::Idle { ping_at } if now >= ping_at => {
                self.state = ServerState::AwaitingPong {
                    deadline: now + self.ping_timeout,
                };
                HeartbeatAction::SendPing
            }
            ServerState::AwaitingPong { deadline } if now >= deadline => {
                self.state = ServerState::Expired;
                HeartbeatAction::TimedOut
            }
            _ => HeartbeatAction::Wait,
        }
    }

    /// A pong arrived at `now`: the next ping is one interval away.
    pub fn on_pong(&mut self, now: Duration) {
        if let ServerState::AwaitingPong { .. } = self.state {
            self.state = ServerState::Idle {
                ping_at: now + self.ping_interval,
            };
        }
    }
}

/// The client side: the server must ping at least every `ping_interval`, and the client
/// gives it `ping_timeout` more before it counts the connection as lost.
#[derive(Debug, Clone)]
pub struct ClientHeartbeat {
    allowance: Duration,
    deadline: Duration,
}

impl ClientHeartbeat {
    /// Starts watching a connection whose handshake arrived at `now`.
    pub fn new(ping_interval: Duration, ping_timeout: Duration, now: Duration) -> Self {
        let allowance = ping_interval + ping_timeout;
        ClientHeartbeat {
            allowance,
            deadline: now + allowance,
        }
    }

    /// A ping (or any packet) arrived at `now`: the server is alive.
    pub fn on_ping(&mut self, now: Duration) {
        self.deadline = now + self.allowance;
    }

    /// When the connection counts as lost if no ping arrives.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Whether the connection counts as lost at `now` ("ping timeout").
    pub fn is_expired(&self, now: Duration) -> bool {
        now >= self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn server_pings_then_times_out_without_pong() {
        let mut hb = ServerHeartbeat::new(ms(300), ms(200), ms(0));
        assert_eq!(hb.deadline(), Some(ms(300)));
        assert_eq!(hb.poll(ms(299)), HeartbeatAction::Wait);
        assert_eq!(hb.poll(ms(300)), HeartbeatAction::SendPing);
        assert_eq!(hb.deadline(), Some(ms(500)));
        assert_eq!(hb.poll(ms(499)), HeartbeatAction::Wait);
        assert_eq!(hb.poll(ms(500)), HeartbeatAction::TimedOut);
        assert_eq!(hb.deadline(), None);
        assert_eq!(hb.poll(ms(10_000)), HeartbeatAction::Wait);
    }

    #[test]
    fn server_pong_schedules_the_next_ping() {
        let mut hb = ServerHeartbeat::new(ms(300), ms(200), ms(0));
        assert_eq!(hb.poll(ms(300)), HeartbeatAction::SendPing);
        hb.on_pong(ms(350));
        assert_eq!(hb.deadline(), Some(ms(650)));
        assert_eq!(hb.poll(ms(600)), HeartbeatAction::Wait);
        assert_eq!(hb.poll(ms(650)), HeartbeatAction::SendPing);
    }

    #[test]
    fn unsolicited_pong_changes_nothing() {
        let mut hb = ServerHeartbeat::new(ms(300), ms(200), ms(0));
        hb.on_pong(ms(100));
        assert_eq!(hb.deadline(), Some(ms(300)));
    }

    #[test]
    fn client_expires_without_ping() {
        let mut hb = ClientHeartbeat::new(ms(300), ms(200), ms(0));
        assert!(!hb.is_expired(ms(499)));
        hb.on_ping(ms(400));
        assert!(!hb.is_expired(ms(899)));
        assert!(hb.is_expired(ms(900)));
    }
}
