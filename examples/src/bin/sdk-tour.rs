//! A first look at the Commerce and SYSPRO SDKs against the in-process simulators: changed orders,
//! GL code checks and a validate-only AR invoice, one step at a time.

use ml_connector_examples::tour::run_tour;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let report = run_tour(40, &mut |line| println!("{line}")).await?;
    println!(
        "done: {} orders listed, {} of {} GL codes valid, invoice {} {}",
        report.orders.len(),
        report.gl_codes.iter().filter(|v| v.is_valid()).count(),
        report.gl_codes.len(),
        report.invoice,
        if report.invoice_valid {
            "validated"
        } else {
            "rejected"
        }
    );
    Ok(())
}
