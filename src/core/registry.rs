//! Things known by a name that people cannot game: the same name twice is refused, and so
//! is a name that looks like one in use. People and rooms are both kept this way.

use std::collections::HashMap;
use std::sync::Arc;

use super::name::Key;
use crate::unicode;

/// Something kept under a name, that can say what its name folds to now.
pub(super) trait Named {
    /// The fold of its name.
    fn fold(&self) -> Arc<str>;
}

/// What a [`Key`] finds.
pub(super) enum Lookup<'a, T> {
    /// Nobody has the name, nor one like it.
    Free,
    /// This one has the same name.
    Same(&'a T),
    /// This one has a name that looks like it.
    LooksLike(&'a T),
}

/// Things by the skeleton of their name. One map serves both questions: a name's fold
/// decides its skeleton, so the same name has the same skeleton, and whoever holds a
/// skeleton either has the same fold (the name is taken) or merely looks alike. No two
/// things kept share a skeleton.
pub(super) struct Registry<T> {
    /// By skeleton.
    by_look: HashMap<Arc<str>, T>,
}

impl<T> Default for Registry<T> {
    fn default() -> Registry<T> {
        Registry { by_look: HashMap::new() }
    }
}

impl<T: Named> Registry<T> {
    /// Who has the name with `key`, or one like it.
    pub fn look(&self, key: &Key) -> Lookup<'_, T> {
        match self.by_look.get(&key.skeleton) {
            None => Lookup::Free,
            Some(found) if found.fold() == key.fold => Lookup::Same(found),
            Some(found) => Lookup::LooksLike(found),
        }
    }

    /// Whoever has a name that folds to `fold`.
    pub fn find(&self, fold: &str) -> Option<&T> {
        let found = self.by_look.get(unicode::skeleton(fold).as_ref())?;
        (*found.fold() == *fold).then_some(found)
    }

    /// Whoever has a name with the skeleton `skeleton`: that name, or one like it.
    pub fn by_skeleton(&self, skeleton: &str) -> Option<&T> {
        self.by_look.get(skeleton)
    }

    /// Keeps `thing` under `key`.
    pub fn insert(&mut self, key: Key, thing: T) {
        self.by_look.insert(key.skeleton, thing);
    }

    /// Removes what is kept under `key`, if `is_it` says it is the one meant.
    pub fn remove_if(&mut self, key: &Key, is_it: impl FnOnce(&T) -> bool) -> bool {
        let found = self.by_look.get(&key.skeleton).is_some_and(is_it);
        if found {
            self.by_look.remove(&key.skeleton);
        }
        found
    }

    /// How many things are kept.
    pub fn len(&self) -> usize {
        self.by_look.len()
    }

    /// Everything kept.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.by_look.values()
    }

    /// Takes everything out.
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.by_look.drain().map(|(_, thing)| thing)
    }
}
