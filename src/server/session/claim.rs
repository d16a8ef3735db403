//! The grace period of someone who took a registered nickname without identifying: when
//! it ends and they still have not, the core renames them to a guest name.

use std::sync::{Arc, Weak};
use std::time::Duration;

use smol::Timer;

use crate::core::Person;
use crate::server::admission::Shared;

/// Starts the grace period of `person`, who holds a registered nickname (`grace` from
/// [`crate::core::Chat::claim`]). Holds neither the person nor the server: a person who
/// leaves, or a server that stops, ends it; so does a later grace period of theirs.
pub(crate) fn watch(shared: &Arc<Shared>, person: &Arc<Person>, grace: Duration) {
    let claim = person.start_claim();
    let (shared, person, fold) = (Arc::downgrade(shared), Arc::downgrade(person), person.folded());
    smol::spawn(async move {
        Timer::after(grace).await;
        let (Some(shared), Some(person)) = (Weak::upgrade(&shared), Weak::upgrade(&person)) else {
            return;
        };
        // Someone who let the nickname go and took it again has the later grace, whole.
        if person.claim_is_latest(claim) {
            shared.chat.enforce_claim(&person, &fold).await;
        }
    })
    .detach();
}
