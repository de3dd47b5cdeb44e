//! What the streams and sharded adapters share: socket.io-adapter's `ClusterAdapter`
//! message types, and the bookkeeping of a request waiting for the other nodes.

use sockeye_protocol::Value;
use tokio::sync::oneshot;

/// socket.io-adapter's `MessageType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageType {
    /// A node announces itself (heartbeat adapters only).
    InitialHeartbeat = 1,
    /// A node is alive (heartbeat adapters only).
    Heartbeat = 2,
    /// A broadcast; with a `requestId`, one that waits for the clients' acks.
    Broadcast = 3,
    /// `socketsJoin`.
    SocketsJoin = 4,
    /// `socketsLeave`.
    SocketsLeave = 5,
    /// `disconnectSockets`.
    DisconnectSockets = 6,
    /// `fetchSockets`.
    FetchSockets = 7,
    /// One node's sockets for a `fetchSockets`.
    FetchSocketsResponse = 8,
    /// `serverSideEmit`; with a `requestId`, one that waits for an answer per node.
    ServerSideEmit = 9,
    /// One node's answer to a `serverSideEmit`.
    ServerSideEmitResponse = 10,
    /// How many clients a node reached with a broadcast that waits for acks.
    BroadcastClientCount = 11,
    /// One client's answer to a broadcast that waits for acks.
    BroadcastAck = 12,
    /// A node leaves (heartbeat adapters only).
    AdapterClose = 13,
}

impl MessageType {
    /// The type of this number, if socket.io-adapter has one.
    pub(crate) fn from_number(n: u64) -> Option<MessageType> {
        use MessageType::*;
        Some(match n {
            1 => InitialHeartbeat,
            2 => Heartbeat,
            3 => Broadcast,
            4 => SocketsJoin,
            5 => SocketsLeave,
            6 => DisconnectSockets,
            7 => FetchSockets,
            8 => FetchSocketsResponse,
            9 => ServerSideEmit,
            10 => ServerSideEmitResponse,
            11 => BroadcastClientCount,
            12 => BroadcastAck,
            13 => AdapterClose,
            _ => return None,
        })
    }

    /// The messages of `ClusterAdapterWithHeartbeat` only (1, 2 and 13).
    pub(crate) fn is_heartbeat(self) -> bool {
        matches!(
            self,
            MessageType::InitialHeartbeat | MessageType::Heartbeat | MessageType::AdapterClose
        )
    }
}

/// A request of ours waiting for the other nodes' responses.
pub(crate) struct Pending {
    pub(crate) kind: MessageType,
    /// Nodes that should answer, and nodes that have.
    pub(crate) expected: usize,
    pub(crate) answered: usize,
    /// For a broadcast with acks: the clients the answering nodes reached.
    pub(crate) clients: usize,
    pub(crate) responses: Vec<Value>,
    pub(crate) done: Option<oneshot::Sender<Vec<Value>>>,
}

impl Pending {
    /// Every node answered and, for a broadcast with acks, every client they reached.
    pub(crate) fn complete(&self) -> bool {
        self.answered >= self.expected
            && (self.kind != MessageType::Broadcast || self.responses.len() >= self.clients)
    }
}
