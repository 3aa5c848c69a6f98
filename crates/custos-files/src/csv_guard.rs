//! What the CSV reader does not tell: where a record starts, whether a quote is still
//! open at the end of the file, and a bound on the length of one record.
//!
//! The csv crate ends a quoted cell silently at the end of the file, folding every line
//! after an unclosed quote into one cell, and grows a record without bound while it looks
//! for its end. [`RecordGuard`] follows the bytes the reader is given with the same
//! rules (RFC 4180 quoting as the csv crate reads it: a quote opens a quoted cell only at
//! the start of a cell, `""` inside it is a quote) and stops a record that grows past its
//! bound before it is read whole.

use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a cell (and of a record).
    CellStart,
    /// In an unquoted cell: quotes are plain characters.
    Unquoted,
    /// In a quoted cell.
    Quoted,
    /// Just after a quote in a quoted cell: it closes the cell, or another quote follows.
    QuoteInQuoted,
}

/// Why a record was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// The record starting on `line` grew past the bound without a quote open.
    TooLong { line: u64 },
    /// The quote opened on `line` was still open when the record passed the bound.
    QuoteOpen { line: u64 },
}

/// Reads `inner` (with LF line ends, see `CrlfToLf`), following records.
pub(crate) struct RecordGuard<R> {
    inner: R,
    delimiter: u8,
    limit: u64,
    state: State,
    /// Line of the next byte (1-based).
    line: u64,
    /// Bytes of the current record so far, and the line it started on.
    record_bytes: u64,
    record_line: u64,
    /// Line of the quote that opened the current quoted cell.
    quote_line: u64,
    /// Bytes given out, and whether `inner` has ended.
    total: u64,
    eof: bool,
    stopped: Option<Stopped>,
}

impl<R> RecordGuard<R> {
    pub(crate) fn new(inner: R, delimiter: u8, limit: u64) -> Self {
        RecordGuard {
            inner,
            delimiter,
            limit,
            state: State::CellStart,
            line: 1,
            record_bytes: 0,
            record_line: 1,
            quote_line: 1,
            total: 0,
            eof: false,
            stopped: None,
        }
    }

    /// Why the last read failed, if a record passed the bound.
    pub(crate) fn stopped(&self) -> Option<Stopped> {
        self.stopped
    }

    /// The line of a quote still open at the end of the file, once the reader has
    /// consumed `consumed` bytes, all there were: the record just read is then the rest of
    /// the file folded into the cell that quote opened.
    pub(crate) fn open_quote_at_end(&self, consumed: u64) -> Option<u64> {
        (self.eof && consumed >= self.total && self.state == State::Quoted)
            .then_some(self.quote_line)
    }

    /// Follow one byte; false when the record passes the bound.
    fn follow(&mut self, b: u8) -> bool {
        if self.record_bytes == 0 {
            self.record_line = self.line;
        }
        let ends_record = matches!(b, b'\n' | b'\r');
        self.state = match self.state {
            State::Quoted if b == b'"' => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::QuoteInQuoted if b == b'"' => State::Quoted,
            State::CellStart if b == b'"' => {
                self.quote_line = self.line;
                State::Quoted
            }
            _ if b == self.delimiter || ends_record => State::CellStart,
            _ => State::Unquoted,
        };
        if b == b'\n' {
            self.line += 1;
        }
        if ends_record && self.state == State::CellStart {
            self.record_bytes = 0;
            return true;
        }
        self.record_bytes += 1;
        self.record_bytes <= self.limit
    }
}

impl<R: Read> Read for RecordGuard<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.stopped.is_some() {
            return Err(std::io::Error::other("CSV record too long"));
        }
        let n = self.inner.read(out)?;
        if n == 0 && !out.is_empty() {
            self.eof = true;
        }
        for &b in &out[..n] {
            if !self.follow(b) {
                self.stopped = Some(if self.state == State::Quoted {
                    Stopped::QuoteOpen {
                        line: self.quote_line,
                    }
                } else {
                    Stopped::TooLong {
                        line: self.record_line,
                    }
                });
                return Err(std::io::Error::other("CSV record too long"));
            }
        }
        self.total += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn run(text: &str, limit: u64) -> (RecordGuard<&[u8]>, std::io::Result<Vec<u8>>) {
        let mut g = RecordGuard::new(text.as_bytes(), b',', limit);
        let mut out = Vec::new();
        let r = g.read_to_end(&mut out).map(|_| out);
        (g, r)
    }

    #[test]
    fn an_open_quote_at_the_end_names_its_line() {
        let text = "a,b\n1,\"x\n2,y\n3,z\n";
        let (g, r) = run(text, 1000);
        assert_eq!(g.open_quote_at_end(r.unwrap().len() as u64), Some(2));
    }

    #[test]
    fn closed_and_doubled_quotes_and_quotes_inside_cells_are_not_open() {
        for text in [
            "a,b\n1,\"x\"\"y\"\n",
            "a,b\n1,\"x\ny\",2\n",
            "a,b\n1,x\"y\n2,\"\"\n",
            "a;\"b\";c\n",
        ] {
            let (g, r) = run(text, 1000);
            assert_eq!(
                g.open_quote_at_end(r.unwrap().len() as u64),
                None,
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_record_past_the_bound_is_stopped_naming_its_line() {
        let text = format!("a,b\n1,2\n{}\n", "x".repeat(100));
        let (g, r) = run(&text, 50);
        assert!(r.is_err());
        assert_eq!(g.stopped(), Some(Stopped::TooLong { line: 3 }));

        let text = format!("a,b\n\n1,\"{}", "x\n".repeat(100));
        let (g, r) = run(&text, 50);
        assert!(r.is_err());
        assert_eq!(g.stopped(), Some(Stopped::QuoteOpen { line: 3 }));

        // Many short records pass whatever their number.
        let many = "1,2\n".repeat(1000);
        let (g, r) = run(&many, 10);
        assert!(r.is_ok());
        assert_eq!(g.stopped(), None);
    }
}
