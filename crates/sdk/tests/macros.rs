//! What the operator attributes accept and reject: programs under `ui/pass` must
//! compile (natively), programs under `ui/fail` must fail with the messages in
//! their `.stderr` files (regenerate those with `TRYBUILD=overwrite`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
