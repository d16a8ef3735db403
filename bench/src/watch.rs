//! The conductor's eyes: every tenth of a second it samples the deliveries and both sides'
//! CPU and memory into the timeline, and keeps the progress bar moving.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::board::Board;
use super::meter::{Meter, Reading};

/// Time between two timeline samples.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// How often a phase's end condition is checked.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// Which part of the run a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Clients connecting and joining.
    Connect,
    /// Sending, not yet measured.
    Warmup,
    /// The measured window.
    Measure,
    /// Senders stopped; waiting for the last deliveries.
    Drain,
}

/// One point of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Time since the run started.
    pub at: Duration,
    /// The phase that was running.
    pub phase: Phase,
    /// Message deliveries so far, warmup included.
    pub delivered: u64,
    /// Clients in the room so far.
    pub welcomed: usize,
    /// `JOIN` announcements received so far, by all clients together.
    pub joins: u64,
    /// Both sides' CPU and memory.
    pub reading: Reading,
}

/// Samples the run and draws its progress.
#[derive(Debug)]
pub struct Watch {
    /// The counters being watched.
    board: Arc<Board>,
    /// Where CPU and memory come from.
    meter: Meter,
    /// When the run started.
    start: Instant,
    /// Every sample so far.
    pub samples: Vec<Sample>,
    /// The progress bar (hidden when not wanted or not on a terminal).
    bar: ProgressBar,
    /// When sending started; before that the bar counts joins.
    sending_since: Option<Instant>,
}

impl Watch {
    /// Starts watching; the first sample is taken now.
    pub fn new(board: Arc<Board>, meter: Meter, show_progress: bool) -> Watch {
        let bar = if show_progress {
            ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        let style = ProgressStyle::with_template("{prefix:>8} [{bar:30}] {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        let start = Instant::now();
        let mut watch =
            Watch { board, meter, start, samples: Vec::new(), bar, sending_since: None };
        watch.sample(Phase::Connect);
        watch
    }

    /// Takes a sample now and returns it.
    pub fn sample(&mut self, phase: Phase) -> Sample {
        let sample = Sample {
            at: self.start.elapsed(),
            phase,
            delivered: Board::get(&self.board.delivered),
            welcomed: self.board.welcomed.load(Ordering::Relaxed),
            joins: Board::get(&self.board.joins),
            reading: self.meter.read(),
        };
        self.samples.push(sample);
        sample
    }

    /// Runs `phase` until `deadline` or until `done` says so, sampling as it goes; the
    /// returned sample marks the phase's end.
    pub fn run_phase(
        &mut self,
        phase: Phase,
        deadline: Instant,
        done: impl Fn(&Board) -> bool,
    ) -> Sample {
        let mut next_sample = Instant::now() + SAMPLE_EVERY;
        loop {
            let now = Instant::now();
            if now >= deadline || done(&self.board) {
                break;
            }
            if now >= next_sample {
                let sample = self.sample(phase);
                self.draw(phase, &sample);
                next_sample += SAMPLE_EVERY;
            }
            thread::sleep(POLL_EVERY.min(deadline - now));
        }
        self.sample(phase)
    }

    /// Updates the progress bar from the latest sample.
    fn draw(&self, phase: Phase, sample: &Sample) {
        self.bar.set_prefix(format!("{phase:?}").to_lowercase());
        match (phase, self.sending_since) {
            (Phase::Connect, _) | (_, None) => self.bar.set_position(sample.welcomed as u64),
            (_, Some(since)) => {
                let elapsed = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
                self.bar.set_position(elapsed.min(self.bar.length().unwrap_or(0)));
                self.bar.set_message(format!("{} deliveries/s", si(self.recent_rate())));
            }
        }
    }

    /// Shows joins out of `clients` until [`Watch::sending`].
    pub fn expect_clients(&self, clients: usize) {
        self.bar.set_length(clients as u64);
    }

    /// Shows time out of `total` (warmup plus duration) from now on.
    pub fn sending(&mut self, total: Duration) {
        self.sending_since = Some(Instant::now());
        self.bar.set_length(u64::try_from(total.as_millis()).unwrap_or(u64::MAX));
        self.bar.set_position(0);
    }

    /// Deliveries per second over the last two samples.
    fn recent_rate(&self) -> f64 {
        match self.samples.as_slice() {
            [.., a, b] if b.at > a.at => {
                (b.delivered - a.delivered) as f64 / (b.at - a.at).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// Removes the progress bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A number with a k/M suffix, for the progress bar.
pub fn si(value: f64) -> String {
    match value {
        v if v >= 1e6 => format!("{:.2}M", v / 1e6),
        v if v >= 1e3 => format!("{:.1}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}
