//! The review command from the outside: how it is found and how it refuses to run without a
//! terminal (the interactive path itself is tests/tui_e2e.rs).

mod util;

#[test]
fn review_is_listed_and_documented() {
    let (ok, out, _) = util::run(util::musav().arg("--help"));
    assert!(ok);
    assert!(out.contains("review"), "{out}");
    let (ok, out, _) = util::run(util::musav().args(["review", "--help"]));
    assert!(ok);
    assert!(
        out.contains("--labels") && out.contains("--save-to"),
        "{out}"
    );
    assert!(
        out.contains("musav review --labels my_labels.toml"),
        "{out}"
    );
}

#[test]
fn without_a_terminal_review_and_bare_musav_fail_with_a_hint() {
    for args in [vec!["review"], vec![]] {
        let (ok, _, err) = util::run(util::musav().args(&args).stdin(std::process::Stdio::null()));
        assert!(!ok, "{args:?} succeeded without a terminal");
        assert!(
            err.contains("needs an interactive terminal") && err.contains("musav export"),
            "{args:?}: {err}"
        );
    }
}
