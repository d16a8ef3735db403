//! The senders' windows of unseen messages (`--inflight`): a sender spends a credit per
//! message and gets it back when its witness reads that message. Where the server echoes
//! (the chat protocol) the witness is the sender itself; over IRC it is another reader of
//! the same room ([`Plan::witness_of`]), perhaps on another thread, so the windows are made
//! before the threads start and shared by all of them.

use async_channel::{Receiver, Sender};

use super::config::Plan;

/// Every sender's window, and who witnesses it.
#[derive(Debug)]
pub struct Windows {
    /// Per sender: the credits it spends and its witness returns; empty without a window.
    credits: Vec<(Sender<()>, Receiver<()>)>,
    /// Per sender: the client whose deliveries return its credits.
    witnesses: Vec<Option<usize>>,
}

/// A reader's duty to one sender: return a credit for each of its messages read.
#[derive(Debug)]
pub struct Witness {
    /// The sender (its number in the stamps).
    pub sender: u32,
    /// Where its credits go back.
    credits: Sender<()>,
    /// Its messages read since the credits were last returned.
    pub seen: usize,
}

impl Windows {
    /// A full window of credits for every sender of `plan`, if it has a window.
    pub fn new(plan: &Plan) -> Windows {
        let Some(window) = plan.window else {
            return Windows { credits: Vec::new(), witnesses: Vec::new() };
        };
        let size = window as usize;
        let credits = (0..plan.talkers())
            .map(|_| {
                let (give, take) = async_channel::bounded(size.max(1));
                for _ in 0..size {
                    let _ = give.try_send(());
                }
                (give, take)
            })
            .collect();
        let witnesses = (0..plan.talkers()).map(|sender| plan.witness_of(sender)).collect();
        Windows { credits, witnesses }
    }

    /// The credits sender `sender` spends; `None` when senders have no window.
    pub fn credits_of(&self, sender: u32) -> Option<Receiver<()>> {
        self.credits.get(sender as usize).map(|(_, take)| take.clone())
    }

    /// The senders client `index` witnesses. Dropping a witness closes its sender's window,
    /// so a sender stops once nobody will return its credits (the reader is gone, or never
    /// got in), instead of waiting for ever.
    pub fn witnessed_by(&self, index: usize) -> Vec<Witness> {
        let witnessed = self.witnesses.iter().zip(&self.credits).enumerate();
        witnessed
            .filter(|(_, (witness, _))| **witness == Some(index))
            .filter_map(|(sender, (_, (give, _)))| {
                let sender = u32::try_from(sender).ok()?;
                Some(Witness { sender, credits: give.clone(), seen: 0 })
            })
            .collect()
    }
}

impl Witness {
    /// Returns a credit for each message seen since the last call.
    pub fn return_credits(&mut self) {
        for _ in 0..std::mem::take(&mut self.seen) {
            // A full channel means the window is already whole; nothing is owed.
            let _ = self.credits.try_send(());
        }
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        self.credits.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Options;
    use crate::protocol::Protocol;

    fn plan(protocol: Protocol, inflight: Option<u32>, rate: Option<f64>) -> Plan {
        let options = Options {
            spawn: true,
            protocol,
            clients: Some(5),
            senders: Some(2),
            inflight,
            rate,
            ..Options::default()
        };
        options.plan().expect("plan")
    }

    #[test]
    fn a_witness_returns_what_its_sender_spent() {
        let windows = Windows::new(&plan(Protocol::Irc, Some(3), None));
        let credits = windows.credits_of(0).expect("a window");
        assert_eq!(credits.len(), 3);
        assert!(windows.witnessed_by(0).is_empty());
        let mut witness = windows.witnessed_by(1);
        assert_eq!(witness.iter().map(|w| w.sender).collect::<Vec<_>>(), [0]);
        credits.try_recv().expect("a credit");
        witness[0].seen = 5;
        witness[0].return_credits();
        assert_eq!(credits.len(), 3);
        drop(witness);
        assert!(credits.is_closed());
    }

    #[test]
    fn where_the_server_echoes_each_sender_is_its_own_witness() {
        let windows = Windows::new(&plan(Protocol::Chat, Some(3), None));
        assert_eq!(windows.witnessed_by(1).iter().map(|w| w.sender).collect::<Vec<_>>(), [1]);
        let paced = Windows::new(&plan(Protocol::Chat, None, Some(10.0)));
        assert!(paced.credits_of(0).is_none());
        assert!(paced.witnessed_by(0).is_empty());
    }
}
