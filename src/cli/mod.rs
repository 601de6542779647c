//! Subcommands of the `helmdeck` command line other than the console itself.
//!
//! They print through [`say!`], [`say_inline!`] and [`tell!`] instead of `println!`,
//! `print!` and `eprintln!`, which panic when the output is closed: a change must run to its
//! end and its record even when its output went to `| head` or a dropped SSH session.

/// A line on standard output; a closed or failing stdout is ignored.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// Text on standard output without a newline, flushed (a prompt); failures ignored.
macro_rules! say_inline {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout();
        let _ = write!(out, $($t)*);
        let _ = out.flush();
    }};
}

/// A line on standard error; a closed or failing stderr is ignored.
macro_rules! tell {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

pub mod console;
pub mod releases;
pub mod scale;
pub mod status;
pub mod topics;
pub mod upgrade;
