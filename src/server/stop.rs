//! The server's stop as the connections see it: a flag, and the wakers of the connections
//! waiting (for input, or for their TLS handshake or request head to finish), all woken at
//! once when it is raised.

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_lite::future;
use slab::Slab;

/// The server's stop. A waiting connection leaves its task's waker here, one slab entry
/// for its whole life, rather than holding a listener of its own for every wait: ten
/// thousand idle clients are ten thousand waits.
#[derive(Default)]
pub struct Stop {
    /// Set once the server is stopping.
    raised: AtomicBool,
    /// The wakers of the connections that have waited, by their [`Place`]s.
    waiting: Mutex<Slab<Waker>>,
}

/// Raises the stop when dropped: the server's run raises it however it ends, cancelled
/// or unwinding included, so that no session outlives it unwarned.
pub struct Raise(pub Arc<Stop>);

impl Drop for Raise {
    fn drop(&mut self) {
        self.0.raise();
    }
}

/// Where a connection's waker is kept in the [`Stop`], once it has waited.
#[derive(Debug, Default)]
pub struct Place(Option<NonZeroUsize>);

/// A wait for the stop with a place of its own, given back however the wait ends.
struct Raised<'a> {
    /// The stop waited for.
    stop: &'a Stop,
    /// Where this wait's waker is kept.
    place: Place,
}

impl Stop {
    /// Ready once the stop is raised; until then, wakes the task polling it when it is.
    pub fn poll(&self, place: &mut Place, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_raised() {
            return Poll::Ready(());
        }
        let mut waiting = self.waiting();
        match place.key().and_then(|key| waiting.get_mut(key)) {
            // Cloned only when another task polls: usually the same one waits again.
            Some(waker) => waker.clone_from(cx.waker()),
            None => place.0 = NonZeroUsize::new(waiting.insert(cx.waker().clone()) + 1),
        }
        // Looked at again under the lock: a stop raised since the look above either finds
        // this waker when it takes them, or was raised before the lock was ours.
        if self.is_raised() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Forgets a connection that is going away.
    pub fn leave(&self, place: &mut Place) {
        if let Some(key) = place.0.take() {
            self.waiting().try_remove(key.get() - 1);
        }
    }

    /// Raises the stop and wakes every connection waiting on it.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::SeqCst);
        // Taken whole. A poll that looked before the flag was set may still add its waker
        // afterwards, and a place left behind may then find that one under its key; both
        // are harmless, since every poll from now on is ready.
        let waiting = std::mem::take(&mut *self.waiting());
        waiting.into_iter().for_each(|(_, waker)| waker.wake());
    }

    /// Runs `task` until it finishes, or `None` if the stop is raised first: for a
    /// connection that waits before it has a session to be woken through (in its TLS
    /// handshake, or sending its request head), so that the stop need not wait for it.
    pub async fn unless_raised<T>(&self, task: impl Future<Output = T>) -> Option<T> {
        let raised = Raised { stop: self, place: Place::default() };
        future::or(async { Some(task.await) }, async {
            raised.await;
            None
        })
        .await
    }

    /// True once the server is stopping.
    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }

    fn waiting(&self) -> MutexGuard<'_, Slab<Waker>> {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Place {
    fn key(&self) -> Option<usize> {
        self.0.map(|key| key.get() - 1)
    }
}

impl Future for Raised<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Raised { stop, place } = self.get_mut();
        stop.poll(place, cx)
    }
}

impl Drop for Raised<'_> {
    fn drop(&mut self) {
        self.stop.leave(&mut self.place);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::task::Wake;

    use super::*;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn woken(count: &Arc<Count>) -> usize {
        count.0.load(Ordering::SeqCst)
    }

    #[test]
    fn raising_wakes_every_waiting_connection_once_and_then_finds_them_ready() {
        let stop = Stop::default();
        let counts: Vec<Arc<Count>> = (0..3).map(|_| Arc::default()).collect();
        let mut places: Vec<Place> = (0..3).map(|_| Place::default()).collect();
        for (count, place) in counts.iter().zip(&mut places) {
            let waker = Waker::from(count.clone());
            // Waiting twice keeps one entry.
            for _ in 0..2 {
                assert!(stop.poll(place, &mut Context::from_waker(&waker)).is_pending());
            }
        }
        assert_eq!(stop.waiting().len(), 3);
        stop.leave(&mut places[1]);
        stop.raise();
        assert_eq!(counts.iter().map(woken).collect::<Vec<_>>(), [1, 0, 1]);
        let waker = Waker::from(counts[0].clone());
        assert!(stop.poll(&mut places[0], &mut Context::from_waker(&waker)).is_ready());
        stop.leave(&mut places[2]);
        assert!(stop.waiting().is_empty());
    }

    #[test]
    fn a_task_unless_raised_ends_at_the_stop_and_leaves_no_waker() {
        let stop = Stop::default();
        let waker = Waker::from(Arc::new(Count::default()));
        let mut cx = Context::from_waker(&waker);
        let mut waiting = Box::pin(stop.unless_raised(future::pending::<()>()));
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        assert_eq!(stop.waiting().len(), 1);
        drop(waiting);
        assert!(stop.waiting().is_empty(), "a wait dropped early gives its place back");
        let mut waiting = Box::pin(stop.unless_raised(future::pending::<()>()));
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        stop.raise();
        assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Ready(None));
        let finished = future::block_on(stop.unless_raised(future::ready(7)));
        assert_eq!(finished, Some(7), "a finished task wins even after the stop");
    }

    #[test]
    fn a_connection_that_leaves_frees_its_entry_for_the_next() {
        let stop = Stop::default();
        let waker = Waker::from(Arc::new(Count::default()));
        let mut first = Place::default();
        assert!(stop.poll(&mut first, &mut Context::from_waker(&waker)).is_pending());
        stop.leave(&mut first);
        let mut second = Place::default();
        assert!(stop.poll(&mut second, &mut Context::from_waker(&waker)).is_pending());
        assert_eq!(stop.waiting().len(), 1);
        stop.leave(&mut first);
        assert_eq!(stop.waiting().len(), 1, "leaving twice does not free another's entry");
    }
}
