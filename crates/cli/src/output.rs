//! How operator commands print: tables for people, durations in the largest sensible unit, and
//! stdout that tolerates a reader that goes away.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use comfy_table::{presets, ContentArrangement, Table};
use zkfleet_dal::{BatchRowCounts, JobTable};

/// Set when stdout refused a write for a reason other than a closed pipe (a full disk, an I/O
/// error): `main` then exits non-zero, because output that was asked for is missing.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// `println!` without its panic: `zkfleet verify ... | head -1` closes the pipe after one line,
/// and `println!` then panics (exit 101, a panic message on stderr). A closed pipe means the
/// reader has what it wanted, so the rest of the output is dropped and the command finishes with
/// its own exit code (a verification still says by its code whether the proof was accepted).
/// Any other write error is reported once on stderr and makes the command exit non-zero.
macro_rules! out {
    () => {
        $crate::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// [`out!`] without the newline (`print!`).
macro_rules! out_str {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*))
    };
}

/// Writes to stdout as [`out!`] describes.
pub(crate) fn write_stdout(text: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        note_stdout_error(&error);
    }
}

fn note_stdout_error(error: &std::io::Error) {
    if error.kind() != std::io::ErrorKind::BrokenPipe && !STDOUT_FAILED.swap(true, Ordering::SeqCst)
    {
        eprintln!("error: writing to stdout: {error}");
    }
}

/// Whether some output could not be written (a closed pipe does not count).
pub(crate) fn stdout_failed() -> bool {
    STDOUT_FAILED.load(Ordering::SeqCst)
}

/// A table with a header row, plain ASCII borders (readable in any terminal and in logs).
pub(crate) fn table<I, S>(header: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut table = Table::new();
    table
        .load_preset(presets::ASCII_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    table
}

/// `1.234s`, `2m 03s`, `1h 02m`.
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.3}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

/// `-` for absent values.
pub(crate) fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Rows changed by an operator command, one line per table that changed (a table reported
/// twice, as prover jobs and their archive are by `delete`, is summed).
pub(crate) fn row_counts(counts: &BatchRowCounts) -> String {
    let lines: Vec<String> = JobTable::ALL
        .into_iter()
        .map(|table| (table, counts.get(table)))
        .filter(|(_, n)| *n > 0)
        .map(|(table, n)| format!("  {table}: {n}"))
        .collect();
    if lines.is_empty() {
        "  (no rows)".to_owned()
    } else {
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(Duration::from_millis(1234)), "1.234s");
        assert_eq!(duration(Duration::from_secs(123)), "2m 03s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h 02m");
    }
}
