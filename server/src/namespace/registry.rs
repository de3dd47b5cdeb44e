//! The namespaces of a server, found by name when a client joins one.

use super::{Namespace, NsHandlers, NsInner, Shared};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub(crate) type Predicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The namespaces of a server: static ones by name, dynamic ones by predicate.
pub(crate) struct Registry {
    pub(crate) shared: Arc<Shared>,
    namespaces: RwLock<HashMap<String, Namespace>>,
    dynamic: RwLock<Vec<(Predicate, Arc<NsHandlers>)>>,
}

impl Registry {
    /// A registry with no namespaces yet.
    pub(crate) fn new(shared: Arc<Shared>) -> Registry {
        Registry {
            shared,
            namespaces: RwLock::new(HashMap::new()),
            dynamic: RwLock::new(Vec::new()),
        }
    }

    /// Every namespace made so far.
    pub(crate) fn namespaces(&self) -> Vec<Namespace> {
        self.namespaces
            .read()
            .expect("namespaces lock")
            .values()
            .cloned()
            .collect()
    }

    /// The namespace a client asks to join, created from a dynamic parent if needed.
    pub(crate) fn lookup(&self, name: &str) -> Option<Arc<NsInner>> {
        if let Some(ns) = self.namespaces.read().expect("namespaces lock").get(name) {
            return Some(ns.inner.clone());
        }
        let handlers = self
            .dynamic
            .read()
            .expect("dynamic lock")
            .iter()
            .find(|(matches, _)| matches(name))
            .map(|(_, handlers)| handlers.clone())?;
        let mut map = self.namespaces.write().expect("namespaces lock");
        let ns = map.entry(name.to_owned()).or_insert_with(|| Namespace {
            inner: NsInner::new(name, handlers, self.shared.clone()),
        });
        Some(ns.inner.clone())
    }

    pub(crate) fn of(&self, name: &str) -> Namespace {
        let name = normalize(name);
        let mut map = self.namespaces.write().expect("namespaces lock");
        map.entry(name.clone())
            .or_insert_with(|| Namespace {
                inner: NsInner::new(&name, Arc::default(), self.shared.clone()),
            })
            .clone()
    }
}

impl Registry {
    /// Adds a dynamic namespace parent: names that `matches` accepts join with its
    /// handlers.
    pub(crate) fn add_dynamic(&self, matches: Predicate, handlers: Arc<NsHandlers>) {
        self.dynamic
            .write()
            .expect("dynamic lock")
            .push((matches, handlers));
    }
}

fn normalize(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}
