//! The fault-injection harness (`btcr_testkit::faults`) in CI: 25 perturbations drawn from a
//! seed (printed; `BTCR_FAULT_SEED` repeats a run, `BTCR_FAULTS` asks for more) against four
//! validators and a full node under 500 transfers a second. No fork, no lost block, the
//! chain moving on every node within 15 s of each heal, every acknowledged transfer in
//! exactly one block.

use btcr_testkit::faults::{config_from_env, run};

use crate::btcr_bin;

#[test]
fn twenty_five_perturbations_fork_nothing_lose_nothing_and_heal_within_fifteen_seconds()
-> eyre::Result<()> {
    let config = config_from_env(btcr_bin(), 25);
    eprintln!("fault-injection seed {} ({} perturbations)", config.seed, config.perturbations);
    let outcome = run(&config)?;
    let table = outcome.table();
    println!("{table}");
    assert!(outcome.rows.len() >= 25.min(config.perturbations));
    assert_eq!(outcome.forks(), 0, "{table}");
    assert_eq!(outcome.lost(), 0, "{table}");
    assert_eq!(outcome.slow_recoveries(), 0, "{table}");
    assert_eq!(outcome.missing, 0, "{table}");
    assert_eq!(outcome.duplicated, 0, "{table}");
    assert_eq!(outcome.included, outcome.acknowledged, "{table}");
    assert!(outcome.acknowledged > 0, "{table}");
    Ok(())
}
