//! The one way the command writes to standard output.
//!
//! `println!` panics when stdout is a pipe whose reader has gone (`custos rule list
//! --json | head`): Rust ignores SIGPIPE, so the write fails with `BrokenPipe`, and the
//! handler cannot be restored without `unsafe`. Here a closed stdout ends the process
//! quietly with status 0, as the reader asked for no more; any other write failure
//! (disk full behind a redirect) is a one-line error with status 1. Nothing else in the
//! crate prints to stdout (`clippy::print_stdout` is denied at the crate root).

use std::io::Write;

/// Write one line to stdout (see the module docs).
macro_rules! outln {
    () => {
        $crate::output::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

pub(crate) fn write_line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        stdout_failed(&e);
    }
}

fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    // eprintln! would panic in turn if stderr is closed too.
    let _ = writeln!(std::io::stderr(), "custos: cannot write the output: {e}");
    std::process::exit(1);
}
