//! An ignored test beside a passing one: ignored counts as a failure.

#[test]
fn passes() {}

#[test]
#[ignore = "deliberately, for the counting self-test"]
fn ignored() {}
