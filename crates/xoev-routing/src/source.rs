//! Configuration sources and positions in them.

use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration file's name and text.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file's path, as shown in error messages.
    pub path: PathBuf,
    /// The file's contents.
    pub text: String,
}

impl Source {
    /// A source from a path and its text (for tests and embedded configs).
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }

    /// The 1-based line number of byte offset `offset`.
    pub fn line_at(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// The location of byte offset `offset`.
    pub fn location(&self, offset: usize) -> Location {
        Location {
            file: self.path.clone(),
            line: self.line_at(offset),
        }
    }
}

/// A place in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line.
    pub line: usize,
}

impl Location {
    /// The file name without its directory, for compact messages.
    pub fn short(&self) -> String {
        let name = self
            .file
            .file_name()
            .map(Path::new)
            .unwrap_or(self.file.as_path());
        format!("{}:{}", name.display(), self.line)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}
