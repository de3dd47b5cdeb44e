//! A binary killed by a signal: it prints no `test result:` line.

#[test]
fn passes() {}

#[test]
fn aborts() {
    std::process::abort();
}
