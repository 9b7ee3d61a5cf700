//! A progress bar on stderr, `\r[#####     ] 52%`, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};

/// Width of the bar in characters.
const WIDTH: u64 = 30;

/// Progress over `total` units.
pub struct Progress {
    total: u64,
    enabled: bool,
}

impl Progress {
    /// A bar over `total` units, shown only if stderr is a terminal.
    pub fn new(total: u64) -> Self {
        Progress {
            total,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// Redraws the bar at `done` units.
    pub fn update(&self, done: u64) {
        if self.enabled {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r{}", bar(done, self.total));
            let _ = stderr.flush();
        }
    }

    /// Erases the bar.
    pub fn finish(&self) {
        if self.enabled {
            let blank = " ".repeat(WIDTH as usize + 8);
            let _ = write!(std::io::stderr().lock(), "\r{blank}\r");
        }
    }
}

/// The bar's text at `done` of `total`.
pub fn bar(done: u64, total: u64) -> String {
    let done = done.min(total);
    let percent = (done * 100).checked_div(total).unwrap_or(100);
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!(
        "[{}{}] {percent:>3}%",
        "#".repeat(filled as usize),
        " ".repeat((WIDTH - filled) as usize)
    )
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn the_bar_fills_in_proportion() {
        assert_eq!(bar(0, 10), format!("[{}]   0%", " ".repeat(30)));
        assert_eq!(
            bar(52, 100),
            format!("[{}{}]  52%", "#".repeat(15), " ".repeat(15))
        );
        assert_eq!(bar(7, 0), format!("[{}] 100%", "#".repeat(30)));
    }
}
