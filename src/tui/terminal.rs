//! The terminal's lifecycle: raw mode and the alternate screen on the way in, everything put
//! back on the way out — on a normal exit, on drop, on panic, and from a signal handler.
//!
//! The terminal is process-wide state, so whether it is set up is tracked in one global flag:
//! [`restore`] undoes [`Tui::enter`] once, however many of exit/drop/panic hook/signal handler
//! call it, and does nothing at all (writes nothing to stdout) if the console never started.

use std::io::{self, Stdout, Write};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::{Hide, Show};
use crossterm::event::DisableMouseCapture;
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The backend the console draws on.
pub type Backend = CrosstermBackend<Stdout>;

/// Whether the terminal is currently in raw mode on the alternate screen.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The escape sequences that set the screen up: alternate screen, hidden cursor, no mouse
/// reporting.
fn write_enter_sequence(out: &mut impl Write) -> io::Result<()> {
    execute!(out, EnterAlternateScreen, DisableMouseCapture, Hide)
}

/// The escape sequences that put the screen back: main screen, visible cursor.
fn write_leave_sequence(out: &mut impl Write) -> io::Result<()> {
    execute!(out, LeaveAlternateScreen, Show)
}

/// Puts the terminal back the way it was: leaves the alternate screen, leaves raw mode, shows
/// the cursor. Does nothing if the terminal is not set up, so it is safe to call more than once
/// and from anywhere (panic hook, signal handler task, `Drop`).
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    // Try every step even if one fails, and report the first failure.
    let screen = write_leave_sequence(&mut io::stdout());
    let raw = disable_raw_mode();
    screen.and(raw)
}

/// Whether the terminal is currently set up by [`Tui::enter`].
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// Makes a panic restore the terminal before the panic message is printed, so the message is
/// readable and the shell is usable afterwards. Call once, before [`Tui::enter`].
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = restore();
        previous(info);
    }));
}

fn setup() -> io::Result<()> {
    ACTIVE.store(true, Ordering::SeqCst);
    let result = enable_raw_mode().and_then(|()| write_enter_sequence(&mut io::stdout()));
    if result.is_err() {
        let _ = restore();
    }
    result
}

/// The console's terminal: a ratatui [`Terminal`] that is set up while this value lives.
///
/// Dereferences to the ratatui terminal, so `tui.draw(|frame| …)` works directly.
pub struct Tui {
    terminal: Terminal<Backend>,
}

impl Tui {
    /// Enters raw mode and the alternate screen and hides the cursor. On failure the terminal
    /// is restored before the error is returned.
    pub fn enter() -> io::Result<Tui> {
        setup()?;
        let terminal = match Terminal::new(CrosstermBackend::new(io::stdout())) {
            Ok(terminal) => terminal,
            Err(err) => {
                let _ = restore();
                return Err(err);
            }
        };
        let mut tui = Tui { terminal };
        tui.terminal.clear()?;
        Ok(tui)
    }

    /// Restores the terminal. Idempotent; also done on drop.
    pub fn exit(&mut self) -> io::Result<()> {
        if is_active() {
            // Write out anything still buffered before leaving the alternate screen.
            let _ = ratatui::backend::Backend::flush(self.terminal.backend_mut());
        }
        restore()
    }

    /// Sets the terminal up again after [`Tui::exit`] (after running an editor, as the upgrade
    /// wizard's `e` does), and forces a full redraw on the next `draw`.
    pub fn resume(&mut self) -> io::Result<()> {
        if !is_active() {
            setup()?;
        }
        // Not `Terminal::clear`: it asks the terminal for the cursor position, and while the
        // key reader (`tui::keys`) is polling the terminal the answer can be read there
        // first, so the query times out. Clearing the screen and drawing a blank frame needs
        // no answer and leaves ratatui's buffer matching the screen, so the next draw is a
        // full one.
        ratatui::backend::Backend::clear_region(
            self.terminal.backend_mut(),
            ratatui::backend::ClearType::All,
        )?;
        self.terminal
            .draw(|f| f.render_widget(ratatui::widgets::Clear, f.area()))?;
        Ok(())
    }

    /// Ctrl-Z: restores the terminal, stops the process as the shell's job control expects, and
    /// sets the terminal up again once the shell continues it (`fg`). In raw mode the terminal
    /// does not turn Ctrl-Z into SIGTSTP, so the console calls this when it reads the key.
    #[cfg(unix)]
    pub fn suspend(&mut self) -> io::Result<()> {
        self.exit()?;
        stop_process()?;
        self.resume()
    }

    /// The ratatui terminal.
    pub fn terminal(&mut self) -> &mut Terminal<Backend> {
        &mut self.terminal
    }
}

impl Deref for Tui {
    type Target = Terminal<Backend>;

    fn deref(&self) -> &Self::Target {
        &self.terminal
    }
}

impl DerefMut for Tui {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.terminal
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.exit();
    }
}

/// Sends SIGTSTP to this process; returns once the process is continued.
#[cfg(unix)]
fn stop_process() -> io::Result<()> {
    use std::ffi::c_int;

    #[cfg(any(target_os = "linux", target_os = "android"))]
    const SIGTSTP: c_int = 20;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const SIGTSTP: c_int = 18; // macOS and the BSDs

    unsafe extern "C" {
        fn raise(signal: c_int) -> c_int;
    }
    // SAFETY: `raise` is the C standard library function, always linked on Unix; SIGTSTP's
    // default action stops the process and takes no pointers or shared state from us.
    if unsafe { raise(SIGTSTP) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_without_enter_is_a_no_op() {
        assert!(!is_active());
        restore().unwrap();
        restore().unwrap();
        assert!(!is_active());
    }

    #[test]
    fn enter_sequence_switches_to_the_alternate_screen_and_hides_the_cursor() {
        let mut out = Vec::new();
        write_enter_sequence(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("\x1b[?1049h"), "{out:?}");
        assert!(out.contains("\x1b[?25l"), "{out:?}");
        assert!(
            !out.contains("\x1b[?1000h"),
            "mouse capture must stay off: {out:?}"
        );
    }

    #[test]
    fn leave_sequence_returns_to_the_main_screen_and_shows_the_cursor() {
        let mut out = Vec::new();
        write_leave_sequence(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("\x1b[?1049l"), "{out:?}");
        assert!(out.contains("\x1b[?25h"), "{out:?}");
    }
}
