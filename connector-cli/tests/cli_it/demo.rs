//! `demo` twice in one folder: the second run continues from the first and posts nothing twice.

use crate::support::{run, scratch};

#[test]
fn demo_runs_twice_from_the_same_state_without_duplicates() {
    let dir = scratch("demo");
    let work = dir.join("work");
    let work_arg = work.display().to_string();
    let first = run(
        &dir,
        &["--json", "demo", "--dir", &work_arg, "--orders", "60"],
    );
    assert_eq!(first.code, 0, "{first:#?}");
    let a = first.json();
    for key in [
        "orders",
        "posted",
        "halted",
        "customers_created",
        "duplicates",
        "seconds",
    ] {
        assert!(!a[key].is_null(), "{key} missing: {a:#}");
    }
    assert!(a["posted"].as_u64().unwrap() > 10, "{a:#}");
    assert_eq!(
        a["posted"], a["invoices_posted"],
        "every posted document is one AR invoice in SYSPRO: {a:#}"
    );
    assert!(
        a["halted"].as_u64().unwrap() > 0,
        "clearance SKUs halt: {a:#}"
    );
    assert_eq!(a["duplicates"], 0);
    for file in [
        "ml-connector.toml",
        "mapping.toml",
        "ml-connector.vault",
        "ml-connector.key",
        "ml-connector.db",
    ] {
        assert!(work.join(file).exists(), "{file}");
    }

    let second = run(
        &dir,
        &["--json", "demo", "--dir", &work_arg, "--orders", "60"],
    );
    assert_eq!(second.code, 0, "{second:#?}");
    let b = second.json();
    assert_eq!(b["posted"], 0, "nothing is posted again: {b:#}");
    assert_eq!(b["posted_total"], a["posted_total"], "{b:#}");
    assert_eq!(b["orders"], a["orders"]);
    assert_eq!(b["duplicates"], 0);

    // The audit trail of the demo is readable with the printed commands.
    let config = work.join("ml-connector.toml").display().to_string();
    let halted = run(
        &dir,
        &["--config", &config, "audit", "list", "--status", "halted"],
    );
    assert_eq!(halted.code, 0, "{halted:#?}");
    assert!(halted.stdout.contains("demo-shop/invoice/"), "{halted:#?}");

    // Fix the mapping as the demo explains, then replay: nothing stays halted.
    let mut mapping = std::fs::read_to_string(work.join("mapping.toml")).unwrap();
    mapping.push_str("\n[[revenue]]\nsku_prefix = \"CLR-\"\naccount = \"00-4010\"\n");
    std::fs::write(work.join("mapping.toml"), mapping).unwrap();
    let replayed = run(
        &dir,
        &[
            "--json", "demo", "--dir", &work_arg, "--orders", "60", "--replay",
        ],
    );
    assert_eq!(replayed.code, 0, "{replayed:#?}");
    let c = replayed.json();
    assert_eq!(c["halted"], 0, "{c:#}");
    assert!(
        c["posted"].as_u64().unwrap() >= a["halted"].as_u64().unwrap(),
        "{c:#}"
    );
    assert_eq!(c["duplicates"], 0);

    let human = run(&dir, &["demo", "--dir", &work_arg, "--orders", "60"]);
    assert_eq!(human.code, 0, "{human:#?}");
    assert!(
        human.stdout.contains("GL totals") && human.stdout.contains("audit list --status halted"),
        "{human:#?}"
    );
}
