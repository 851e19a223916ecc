//! How the CLI prints: plain tables for people, JSON for scripts, and errors as one
//! `error: …` line on stderr with an exit code (1: a check said no; 2: the command
//! failed; 130: cancelled with Ctrl-C at a prompt).
//!
//! Everything goes through [`write_out`] (the `outln!` macro) and [`write_err`],
//! never `println!`: `println!` panics when the reader has gone away, as in
//! `keyward audit list | head -1`. Here a closed stdout silently drops the rest of the
//! output and the command ends as it would have, with its own exit code (a check
//! piped into `head` still exits 1 when the key is not valid).

use comfy_table::{ContentArrangement, Table};
use keyward_app::AppError;
use serde::Serialize;
use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// How wide tables may get: readable in a 100-column terminal, and the same width on
/// a terminal and in a pipe, so what people see is what scripts and tests see.
pub const TABLE_WIDTH: u16 = 100;

/// Set once stdout cannot be written to; later output is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// A write error other than a closed pipe (a full disk), reported at exit.
static STDOUT_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// Writes one line to stdout, like `println!`, without panicking; see the module doc.
macro_rules! outln {
    () => {
        $crate::output::write_out(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Writes one line to stderr, like `eprintln!`, without panicking.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::write_err(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use errln;

/// Writes `args` and a newline to stdout. A closed pipe ends all output quietly;
/// another error is remembered for [`finish`] to report.
pub fn write_out(args: fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            if let Ok(mut slot) = STDOUT_ERROR.lock() {
                slot.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// Writes `args` to stderr, ignoring errors: there is nowhere left to report them.
pub fn write_err(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.flush());
}

/// The exit code for a command's result, and its error on stderr. Output that could
/// not be written (other than to a reader that left) turns success into failure, so
/// a script does not take a half-written listing for a whole one.
pub fn finish(result: Result<(), Failure>) -> ExitCode {
    let unwritten = STDOUT_ERROR.lock().ok().and_then(|mut slot| slot.take());
    match (result, unwritten) {
        (Err(failure), _) => failure.exit(),
        (Ok(()), Some(e)) => Failure::usage(format!("cannot write to standard output: {e}")).exit(),
        (Ok(()), None) => ExitCode::SUCCESS,
    }
}

/// Why a command did not succeed, and how to exit.
#[derive(Debug)]
pub struct Failure {
    pub message: Option<String>,
    pub code: u8,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: Some(message.into()),
            code: 2,
        }
    }

    /// The person cancelled at a prompt with Ctrl-C: exit 130, as a shell reports a
    /// command that SIGINT ended.
    pub fn cancelled(message: impl Into<String>) -> Self {
        Failure {
            message: Some(message.into()),
            code: 130,
        }
    }

    /// A check that completed with an outcome other than `valid`: already printed.
    pub fn not_valid() -> Self {
        Failure {
            message: None,
            code: 1,
        }
    }

    pub fn exit(self) -> ExitCode {
        if let Some(m) = self.message {
            write_err(format_args!("error: {m}\n"));
        }
        ExitCode::from(self.code)
    }
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        let message = match &e {
            AppError::Invalid { field, message } if !message.starts_with(field) => {
                format!("{field}: {message}")
            }
            AppError::Storage(source) => format!("{e}: {source}"),
            _ => e.to_string(),
        };
        Failure::usage(message)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::usage(format!("{e:#}"))
    }
}

pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => outln!("{s}"),
        Err(e) => write_err(format_args!("error: cannot render JSON: {e}\n")),
    }
}

/// A table with no borders or colours, at most [`TABLE_WIDTH`] wide. Columns fit
/// their content, except those named in `flexible` (free text such as names and
/// permissions), which share the width left and wrap, or with `one_line` are cut
/// short with `…`.
fn table(headers: &[&str], rows: &[Vec<String>], flexible: &[&str], one_line: bool) -> Table {
    let mut table = Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(TABLE_WIDTH)
        .set_truncation_indicator("…")
        .set_header(headers.to_vec());
    // No borders and no lines between columns: the padding parts them.
    for component in comfy_table::TableComponent::iter() {
        table.remove_style(component);
    }
    for row in rows {
        let mut row = comfy_table::Row::from(row);
        if one_line {
            row.max_height(1);
        }
        table.add_row(row);
    }
    let last = headers.len().saturating_sub(1);
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i == last { 0 } else { 2 }));
        if !headers.get(i).is_some_and(|h| flexible.contains(h)) {
            column.set_constraint(comfy_table::ColumnConstraint::ContentWidth);
        }
    }
    table
}

/// The lines of a table, without trailing spaces.
pub fn table_lines(
    headers: &[&str],
    rows: &[Vec<String>],
    flexible: &[&str],
    one_line: bool,
) -> Vec<String> {
    table(headers, rows, flexible, one_line)
        .lines()
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// Prints rows under headers; cells of the `flexible` columns wrap to keep the table
/// within [`TABLE_WIDTH`].
pub fn print_table(headers: &[&str], rows: &[Vec<String>], flexible: &[&str]) {
    for line in table_lines(headers, rows, flexible, false) {
        outln!("{line}");
    }
}

/// Prints rows under headers, one line each, cutting the `flexible` columns short.
pub fn print_one_line_table(headers: &[&str], rows: &[Vec<String>], flexible: &[&str]) {
    for line in table_lines(headers, rows, flexible, true) {
        outln!("{line}");
    }
}

/// Prints `label: value` lines, labels aligned.
pub fn print_fields(fields: &[(&str, String)]) {
    let width = fields.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, value) in fields {
        outln!(
            "{:<width$}  {value}",
            format!("{label}:"),
            width = width + 1
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn tables_are_plain_aligned_columns() {
        let lines = table_lines(
            &["ID", "NAME"],
            &[row(&["1", "Acme"]), row(&["22", "Beta Corp"])],
            &["NAME"],
            false,
        );
        assert_eq!(lines, ["ID  NAME", "1   Acme", "22  Beta Corp"]);
    }

    /// People read tables in 100-column terminals; nothing may run past that.
    #[test]
    fn long_cells_wrap_or_are_cut_to_fit_the_width() {
        let long = "word ".repeat(60);
        let rows = [row(&["0123456789abcdef", &long, &long])];
        for one_line in [false, true] {
            let lines = table_lines(&["ID", "A", "B"], &rows, &["A", "B"], one_line);
            for line in &lines {
                assert!(line.chars().count() <= 100, "{}: {line}", line.len());
            }
            assert_eq!(lines.len() == 2, one_line, "{lines:#?}");
        }
        let cut = table_lines(&["ID", "A", "B"], &rows, &["A", "B"], true);
        assert!(cut[1].starts_with("0123456789abcdef  word"), "{cut:?}");
        assert!(cut[1].ends_with('…'), "{cut:?}");
    }

    #[test]
    fn fixed_columns_are_never_split() {
        let time = "2027-01-31T12:00:00Z";
        let long = "word ".repeat(60);
        let lines = table_lines(&["TIME", "TEXT"], &[row(&[time, &long])], &["TEXT"], false);
        assert!(lines[1].starts_with(&format!("{time}  word")), "{lines:?}");
        assert!(lines[2].starts_with(&format!("{}  word", " ".repeat(time.len()))));
    }
}
