//! `bench` at small sizes: a chaos run (the connector killed and restarted) and a fault storm, each
//! checked for correctness only (timing depends on the machine and is not asserted).

use serde_json::Value;

use crate::support::{run, scratch};

/// Every postable order posted exactly once, nothing else on the ledger, the halted ones exactly
/// those the simulators made unmappable.
fn assert_correct(r: &Value) {
    let n = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("{k} missing or not a count: {r:#}"))
    };
    for key in [
        "wall_seconds",
        "syspro_busy_seconds",
        "ratio_to_bound",
        "commerce_calls",
        "syspro_calls",
        "connector_cpu_seconds",
        "peak_rss_bytes",
    ] {
        assert!(r[key].is_number(), "{key} missing: {r:#}");
    }
    assert_eq!(r["drained"], true, "{r:#}");
    assert_eq!(n("posted"), n("orders") - n("expected_halted"), "{r:#}");
    assert_eq!(n("halted"), n("expected_halted"), "{r:#}");
    for key in [
        "duplicates",
        "missing",
        "amount_mismatches",
        "unbalanced_journals",
        "unexpected_invoices",
        "dead",
        "open",
    ] {
        assert_eq!(n(key), 0, "{key}: {r:#}");
    }
    assert!(n("commerce_calls") > 0 && n("syspro_calls") > 0, "{r:#}");
}

#[test]
fn chaos_run_posts_every_order_exactly_once_with_a_complete_audit_trail() {
    let dir = scratch("bench-chaos");
    let work = dir.join("work").display().to_string();
    let out = run(
        &dir,
        &[
            "--json",
            "bench",
            "--orders",
            "300",
            "--chaos-kills",
            "5",
            "--latency-ms",
            "5",
            "--item-latency-ms",
            "0",
            "--dir",
            &work,
        ],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let r = out.json();
    assert_correct(&r);
    assert_eq!(r["orders"], 300);
    assert_eq!(r["chaos_kills"], 5, "{r:#}");
    assert!(r["connector_processes"].as_u64().unwrap_or(0) >= 6, "{r:#}");
    assert_eq!(r["audit_incomplete"], 0, "{r:#}");
}

#[test]
fn fault_storm_halts_exactly_the_unmappable_orders_and_posts_the_rest_once() {
    let dir = scratch("bench-storm");
    let out = run(
        &dir,
        &[
            "--json",
            "bench",
            "--orders",
            "500",
            "--faults",
            "storm",
            "--latency-ms",
            "5",
            "--item-latency-ms",
            "0",
        ],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let r = out.json();
    assert_correct(&r);
    assert_eq!(r["orders"], 500);
    assert_eq!(r["faults"], "storm");
    assert!(
        r["expected_halted"].as_u64().unwrap_or(0) > 0,
        "the storm makes some orders unmappable: {r:#}"
    );
    assert_eq!(r["audit_incomplete"], 0, "{r:#}");
}

#[test]
fn bench_refuses_a_folder_that_already_holds_a_database() {
    let dir = scratch("bench-reuse");
    std::fs::write(dir.join("ml-connector.db"), b"").unwrap();
    let target = dir.display().to_string();
    let out = run(&dir, &["bench", "--orders", "10", "--dir", &target]);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("already holds"), "{out:#?}");
}

/// A bad value is refused before anything runs, with exit code 2 and a message naming the option.
#[test]
fn bench_names_the_option_a_bad_value_was_given_to() {
    let dir = scratch("bench-bad-input");
    for (args, named) in [
        (&["--faults", "foo"][..], "--faults"),
        (&["--orders", "0"][..], "--orders"),
        (&["--orders", "abc"][..], "--orders"),
        (&["--orders", "-5"][..], "--orders"),
        (&["--latency-ms", "-1"][..], "--latency-ms"),
        (&["--item-latency-ms", "x"][..], "--item-latency-ms"),
        (&["--chaos-kills", "-2"][..], "--chaos-kills"),
        (&["--seed", "z"][..], "--seed"),
        (&["--timeout-secs", "-3"][..], "--timeout-secs"),
    ] {
        let mut all = vec!["bench", "--json"];
        all.extend_from_slice(args);
        let out = run(&dir, &all);
        assert_eq!(out.code, 2, "{args:?}: {out:#?}");
        assert!(out.stderr.contains(named), "{args:?}: {out:#?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:#?}");
    }
}

/// `--floor` measures the steps every order needs on the seeded orders and prints each figure, and
/// refuses the options of a run it does not make.
#[test]
fn bench_floor_prints_the_cost_of_each_step_and_their_sum() {
    let dir = scratch("bench-floor");
    let out = run(&dir, &["bench", "--floor", "--orders", "20", "--json"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let r: Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    assert_eq!(r["orders"], 20, "{r:#}");
    assert!(
        r["average_order_bytes"].as_u64().unwrap_or(0) > 1000,
        "{r:#}"
    );
    let micros = |key: &str| {
        let v = r[key].as_f64().unwrap_or(-1.0);
        assert!(v > 0.0, "{key}: {r:#}");
        v
    };
    // The floor keeps the cheaper of the plain and the compressed copy.
    let floor = micros("decode_order_micros_per_order")
        + micros("fingerprint_micros_per_order")
        + micros("durable_copy_micros_per_order")
            .min(micros("durable_copy_compressed_micros_per_order"));
    // Reading without keeping anything is the cheapest way through the JSON.
    assert!(
        micros("read_json_micros_per_order") < micros("decode_value_micros_per_order"),
        "{r:#}"
    );
    assert!(
        (micros("floor_micros_per_order") - floor).abs() < 0.2,
        "{r:#}"
    );

    let human = run(&dir, &["bench", "--floor", "--orders", "5"]);
    assert_eq!(human.code, 0, "{human:#?}");
    assert!(human.stdout.contains("durable copy"), "{human:#?}");
    assert!(human.stdout.contains("compressed (LZ4)"), "{human:#?}");
    assert!(human.stdout.contains("floor"), "{human:#?}");

    let refused = run(&dir, &["bench", "--floor", "--chaos-kills", "2"]);
    assert_eq!(refused.code, 2, "{refused:#?}");
    assert!(refused.stderr.contains("--chaos-kills"), "{refused:#?}");
}
