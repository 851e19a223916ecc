//! How the CLI prints: aligned tables for people, JSON for scripts, and errors as one
//! `error: …` line on stderr with an exit code (1: a check said no; 2: the command
//! failed).

use keyward_app::AppError;
use serde::Serialize;
use std::process::ExitCode;

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

    /// A check that completed with an outcome other than `valid`: already printed.
    pub fn not_valid() -> Self {
        Failure {
            message: None,
            code: 1,
        }
    }

    pub fn exit(self) -> ExitCode {
        if let Some(m) = self.message {
            eprintln!("error: {m}");
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
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot render JSON: {e}"),
    }
}

/// Prints rows under headers, each column as wide as its widest cell.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Prints `label: value` lines, labels aligned.
pub fn print_fields(fields: &[(&str, String)]) {
    let width = fields.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, value) in fields {
        println!(
            "{:<width$}  {value}",
            format!("{label}:"),
            width = width + 1
        );
    }
}
