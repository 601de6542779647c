//! The console's key reader: one thread reads the terminal's events and hands them to the
//! event loop over a channel. It can be paused while someone else owns the terminal (the
//! shell after Ctrl-Z, an editor), and reads nothing then.
//!
//! Not crossterm's `EventStream`: dropping one wakes crossterm's shared poll, and a wake still
//! pending when the next stream first polls is reported before, and instead of, a key that
//! arrived in the same instant. That key then sat unread until the next one was typed (seen as
//! a key unanswered after `fg`). Polling with a timeout needs no wake.

use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use crossterm::event::{self, Event};
use tokio::sync::mpsc;

/// How long one poll of the terminal waits: the most a pause waits for the reader to stop.
const POLL: Duration = Duration::from_millis(40);

#[derive(Default)]
struct State {
    /// Asked to stop reading.
    paused: bool,
    /// Inside a poll or read of the terminal.
    reading: bool,
    /// The console is done; the thread ends.
    closed: bool,
}

#[derive(Default)]
struct Gate {
    state: Mutex<State>,
    changed: Condvar,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Blocks while paused; false once closed. Marks the reader as reading.
    fn enter(&self) -> bool {
        let mut s = self.lock();
        loop {
            if s.closed {
                return false;
            }
            if !s.paused {
                s.reading = true;
                return true;
            }
            s = self
                .changed
                .wait(s)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn leave(&self) {
        self.lock().reading = false;
        self.changed.notify_all();
    }

    /// Asks the reader to stop and waits until it is not inside a read.
    fn pause(&self) {
        let mut s = self.lock();
        s.paused = true;
        while s.reading {
            s = self
                .changed
                .wait(s)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn set(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.lock());
        self.changed.notify_all();
    }
}

/// The key reader. Its events arrive on [`Keys::next`]; the thread ends when this is dropped.
pub struct Keys {
    rx: mpsc::UnboundedReceiver<io::Result<Event>>,
    gate: Arc<Gate>,
}

impl Keys {
    /// Starts the reader thread. If it cannot start, the first event is that error, which
    /// ends the console with it.
    pub fn start() -> Keys {
        let (tx, rx) = mpsc::unbounded_channel();
        let gate = Arc::new(Gate::default());
        let reader = gate.clone();
        let failed = tx.clone();
        if let Err(e) = thread::Builder::new()
            .name("keys".into())
            .spawn(move || read_keys(&reader, &tx))
        {
            let _ = failed.send(Err(io::Error::new(
                e.kind(),
                format!("cannot start the key reader: {e}"),
            )));
        }
        Keys { rx, gate }
    }

    /// The next event; `None` once the terminal cannot be read any more.
    pub async fn next(&mut self) -> Option<io::Result<Event>> {
        self.rx.recv().await
    }

    /// Stops reading the terminal and returns once the reader is not inside a read, so
    /// whoever takes the terminal next gets every key typed.
    pub fn pause(&self) {
        self.gate.pause();
    }

    /// Reads the terminal again.
    pub fn resume(&self) {
        self.gate.set(|s| s.paused = false);
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.gate.set(|s| s.closed = true);
    }
}

/// The reader thread: polls the terminal between pauses and sends what it reads. Ends when
/// the console is done, or after an error (sent on) from the terminal.
fn read_keys(gate: &Gate, tx: &mpsc::UnboundedSender<io::Result<Event>>) {
    while gate.enter() {
        let got = match event::poll(POLL) {
            Ok(true) => Some(event::read()),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        };
        gate.leave();
        let Some(got) = got else { continue };
        let failed = got.is_err();
        if tx.send(got).is_err() || failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_thread<T: Send + 'static>(
        gate: &Arc<Gate>,
        f: impl FnOnce(&Gate) -> T + Send + 'static,
    ) -> thread::JoinHandle<T> {
        let gate = gate.clone();
        thread::spawn(move || f(&gate))
    }

    #[test]
    fn a_pause_waits_for_the_read_in_progress_and_a_resume_lets_the_reader_on() {
        let gate = Arc::new(Gate::default());
        assert!(gate.enter(), "a new reader reads");
        let pauser = in_thread(&gate, Gate::pause);
        thread::sleep(Duration::from_millis(50));
        assert!(!pauser.is_finished(), "the pause returned during a read");
        gate.leave();
        pauser.join().unwrap();

        let reader = in_thread(&gate, Gate::enter);
        thread::sleep(Duration::from_millis(50));
        assert!(!reader.is_finished(), "the reader read while paused");
        gate.set(|s| s.paused = false);
        assert!(reader.join().unwrap(), "the reader reads after a resume");
    }

    #[test]
    fn a_closed_gate_ends_the_reader_even_while_paused() {
        let gate = Arc::new(Gate::default());
        gate.pause();
        let reader = in_thread(&gate, Gate::enter);
        gate.set(|s| s.closed = true);
        assert!(!reader.join().unwrap());
    }
}
