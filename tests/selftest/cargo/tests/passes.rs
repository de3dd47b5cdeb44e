//! The control: two tests that pass.

#[test]
fn one() {}

#[test]
fn two() {}
