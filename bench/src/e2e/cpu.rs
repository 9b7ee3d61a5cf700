//! CPU time charged to each side of the deployment over a phase, from `/proc/<pid>/stat`: the
//! `ledgerd` processes and the PostgreSQL server they use, per side (the primary; the
//! read-only replica on its standby, with `--read-replica`).
//!
//! A PostgreSQL server is its postmaster's process tree: the postmaster, its live children
//! (backends, WAL writer and sender, checkpointer, …) and, through the postmaster's
//! `cutime`/`cstime`, the children that exited meanwhile; so a backend that ends within the
//! phase is counted whole, from its last reading to its exit.

use serde::Serialize;

/// The processes of one side of the deployment.
#[derive(Debug, Clone)]
pub struct Side {
    /// Its name in the report ("primary", "replica").
    pub name: &'static str,
    /// Its `ledgerd` processes.
    pub ledgerd: Vec<u32>,
    /// Its PostgreSQL's postmaster, when that server is this benchmark's alone.
    pub postmaster: Option<u32>,
}

/// Cumulative CPU ticks of each side's processes at one moment.
#[derive(Debug, Clone)]
pub struct Reading {
    sides: Vec<(Side, Ticks)>,
}

/// Ticks of `ledgerd` and of PostgreSQL (`None`: not measured).
#[derive(Debug, Clone, Copy)]
struct Ticks {
    ledgerd: u64,
    postgres: Option<u64>,
}

/// CPU one side used over a phase.
#[derive(Debug, Clone, Serialize)]
pub struct SideCpu {
    /// The side.
    pub side: String,
    /// Milliseconds of CPU of its `ledgerd` processes.
    pub ledgerd_ms: f64,
    /// Milliseconds of CPU of its PostgreSQL (`None` for a `DATABASE_URL` server).
    pub postgres_ms: Option<f64>,
}

impl SideCpu {
    /// `ledgerd` and PostgreSQL together (PostgreSQL counted as 0 when not measured).
    pub fn total_ms(&self) -> f64 {
        self.ledgerd_ms + self.postgres_ms.unwrap_or(0.0)
    }

    /// Milliseconds of CPU (both together) per one of `count` (per billed request, per
    /// operation); `None` when there were none.
    pub fn per(&self, count: u64) -> Option<f64> {
        (count > 0).then(|| self.total_ms() / count as f64)
    }
}

/// Reads the ticks of every side's processes now.
pub fn read(sides: &[Side]) -> Reading {
    Reading {
        sides: sides
            .iter()
            .map(|side| {
                let ticks = Ticks {
                    ledgerd: side.ledgerd.iter().map(|&pid| own_ticks(pid)).sum(),
                    postgres: side.postmaster.map(tree_ticks),
                };
                (side.clone(), ticks)
            })
            .collect(),
    }
}

impl Reading {
    /// What each side used from `self` until `later`.
    pub fn until(&self, later: &Reading) -> Vec<SideCpu> {
        let ms_per_tick = 1000.0 / ticks_per_second();
        self.sides
            .iter()
            .zip(&later.sides)
            .map(|((side, before), (_, after))| SideCpu {
                side: side.name.to_owned(),
                ledgerd_ms: after.ledgerd.saturating_sub(before.ledgerd) as f64 * ms_per_tick,
                postgres_ms: before
                    .postgres
                    .zip(after.postgres)
                    .map(|(b, a)| a.saturating_sub(b) as f64 * ms_per_tick),
            })
            .collect()
    }
}

/// The parent of process `pid`, if that process is visible here.
pub fn parent(pid: u32) -> Option<u32> {
    stat(pid).map(|s| s.ppid)
}

/// The process's user and system ticks (all its threads).
fn own_ticks(pid: u32) -> u64 {
    stat(pid).map_or(0, |s| s.utime + s.stime)
}

/// The ticks of `root` and its children, with those of its exited children.
fn tree_ticks(root: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some(s) = stat(pid)
            && (pid == root || s.ppid == root)
        {
            total += s.utime + s.stime + s.cutime + s.cstime;
        }
    }
    total
}

/// The fields of `/proc/<pid>/stat` used here.
struct Stat {
    ppid: u32,
    utime: u64,
    stime: u64,
    cutime: u64,
    cstime: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may hold
/// spaces, so fields are counted from the last `)`: state is field 3, ppid 4, utime 14,
/// stime 15, cutime 16, cstime 17.
fn parse_stat(text: &str) -> Option<Stat> {
    let fields: Vec<&str> = text
        .get(text.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    Some(Stat {
        ppid: u32::try_from(field(4)?).ok()?,
        utime: field(14)?,
        stime: field(15)?,
        cutime: field(16)?,
        cstime: field(17)?,
    })
}

/// Clock ticks per second (`getconf CLK_TCK`; Linux reports 100 to user space).
fn ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fields_are_counted_from_the_last_parenthesis() {
        let line = "4242 (postgres: ledger (x) idle) S 4200 4200 4200 0 -1 4194560 \
                    100 0 0 0 31 7 5 2 20 0 1 0 123 0 0";
        let stat = super::parse_stat(line).unwrap();
        assert_eq!(stat.ppid, 4200);
        assert_eq!(
            (stat.utime, stat.stime, stat.cutime, stat.cstime),
            (31, 7, 5, 2)
        );
    }

    #[test]
    fn a_truncated_line_is_not_read() {
        assert!(super::parse_stat("4242 (ledgerd) S 1 2 3").is_none());
    }

    #[test]
    fn a_side_uses_what_its_processes_used_between_two_readings() {
        let me = std::process::id();
        let side = super::Side {
            name: "primary",
            ledgerd: vec![me],
            postmaster: None,
        };
        let before = super::read(std::slice::from_ref(&side));
        // Spins until the meter sees this process use 50 ms (within 30 s, however busy the
        // machine).
        let start = std::time::Instant::now();
        let mut spin = 0_u64;
        let used = loop {
            for _ in 0..1_000_000 {
                spin = std::hint::black_box(spin.wrapping_add(1));
            }
            let used = before.until(&super::read(std::slice::from_ref(&side)));
            if used[0].ledgerd_ms >= 50.0 || start.elapsed().as_secs() >= 30 {
                break used;
            }
        };
        assert_eq!(used[0].side, "primary");
        assert!(used[0].ledgerd_ms >= 50.0, "{used:?}");
        assert!(used[0].postgres_ms.is_none());
    }
}
