//! The line editor of the interactive client: rustyline, with its history kept in a file
//! across runs.

use std::io::{self, Write as _};
use std::path::PathBuf;

use rustyline::config::Config;
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};

use super::input::holds_secret;
use super::session::ChatError;

/// How many lines the history keeps.
const HISTORY_SIZE: usize = 1000;

/// What one `readline` produced.
pub(super) enum Typed {
    /// A line (Enter).
    Line(String),
    /// Ctrl-C, or a wake from the printer thread.
    Interrupted,
    /// Ctrl-D on an empty line.
    Eof,
}

/// The line editor and where its history is kept.
pub(super) struct Editor {
    /// rustyline itself.
    lines: DefaultEditor,
    /// The history file, if any.
    history: Option<PathBuf>,
}

impl Editor {
    /// A line editor with the history from `history` loaded (a missing file is fine).
    pub(super) fn open(history: Option<PathBuf>) -> Result<Editor, ChatError> {
        let config = Config::builder()
            .max_history_size(HISTORY_SIZE)
            .and_then(|builder| builder.history_ignore_dups(true))
            .map_err(terminal_error)?
            .history_ignore_space(true)
            .auto_add_history(false)
            .build();
        let mut lines = DefaultEditor::with_config(config).map_err(terminal_error)?;
        if let Some(path) = &history {
            let _ = lines.load_history(path);
        }
        Ok(Editor { lines, history })
    }

    /// Reads one line at `prompt`.
    pub(super) fn read(&mut self, prompt: &str) -> Result<Typed, ChatError> {
        match self.lines.readline(prompt) {
            Ok(line) => Ok(Typed::Line(line)),
            Err(ReadlineError::Interrupted) => Ok(Typed::Interrupted),
            Err(ReadlineError::Eof) => Ok(Typed::Eof),
            Err(error) => Err(terminal_error(error)),
        }
    }

    /// A way to print above the prompt from another thread, even while `read` waits.
    pub(super) fn printer(&mut self) -> Result<impl ExternalPrinter + Send + 'static, ChatError> {
        self.lines.create_external_printer().map_err(terminal_error)
    }

    /// Adds a sent line to the history, unless it holds a password: the history is a
    /// plain file, and Up would show the password to whoever is at the keyboard next.
    pub(super) fn remember(&mut self, line: &str) {
        if !holds_secret(line) {
            let _ = self.lines.add_history_entry(line);
        }
    }

    /// Writes the history back; a failure is reported but does not change the exit code.
    pub(super) fn save_history(&mut self) {
        let Some(path) = &self.history else { return };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(error) = self.lines.save_history(path) {
            let _ = writeln!(
                io::stderr(),
                "smolchat: cannot save history to {}: {error}",
                path.display()
            );
        }
    }
}

fn terminal_error(error: ReadlineError) -> ChatError {
    ChatError::Terminal(error.to_string())
}
