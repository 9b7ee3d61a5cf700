//! Progress on stderr for long exports and verification (`indicatif`), drawn only when
//! stderr is a terminal: piped or redirected output never gets escape codes.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress over a known total, or a running count when the total is unknown.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `total` positions.
    pub fn new(total: u64) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), target());
        if let Ok(style) =
            ProgressStyle::with_template("[{bar:30}] {percent:>3}% {pos}/{len} {per_sec} eta {eta}")
        {
            bar.set_style(style.progress_chars("#>-"));
        }
        Progress { bar }
    }

    /// A spinner counting bytes, with a `message` before it.
    pub fn bytes(message: &'static str) -> Self {
        let bar = ProgressBar::with_draw_target(None, target());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {bytes} ({bytes_per_sec})")
        {
            bar.set_style(style);
        }
        bar.set_message(message);
        Progress { bar }
    }

    /// Moves the bar to `done`.
    pub fn update(&self, done: u64) {
        self.bar.set_position(done);
    }

    /// Erases the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// stderr when it is a terminal, else nowhere.
fn target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}
