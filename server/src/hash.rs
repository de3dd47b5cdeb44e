//! The maps looked up on every event and every broadcast target (sockets, rooms,
//! handlers, acks). foldhash with a per-process random seed: several times cheaper
//! than the standard SipHash on short keys such as socket ids, and still seeded, so
//! room names chosen by clients cannot be crafted to collide.

/// A hash map with the fast seeded hasher.
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A hash set with the fast seeded hasher.
pub(crate) type Set<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
