//! The fault-injection harness from the command line, for long (nightly) runs:
//!
//! ```text
//! btcr-faults --btcr target/release/btcr [--perturbations 80] [--seed N] [--tx-per-sec 500]
//!             [--block-time 300ms]
//! ```
//!
//! Prints each perturbation as it is done, then the table; exits 1 if any perturbation
//! forked or lost a block, liveness did not come back within 15 s, or an acknowledged
//! transfer is missing or in two blocks.

use std::path::PathBuf;

use btcr_testkit::faults::{FaultConfig, run};

fn main() -> eyre::Result<()> {
    let mut config = FaultConfig {
        btcr: PathBuf::from("target/release/btcr"),
        perturbations: 80,
        seed: rand::random(),
        tx_per_sec: 500,
        block_time: "300ms".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| eyre::eyre!("{flag} needs a value"));
        match flag.as_str() {
            "--btcr" => config.btcr = PathBuf::from(value()?),
            "--perturbations" => config.perturbations = value()?.parse()?,
            "--seed" => config.seed = value()?.parse()?,
            "--tx-per-sec" => config.tx_per_sec = value()?.parse()?,
            "--block-time" => config.block_time = value()?,
            "-h" | "--help" => {
                println!(
                    "btcr-faults --btcr PATH [--perturbations N] [--seed N] [--tx-per-sec N] [--block-time D]"
                );
                return Ok(());
            }
            other => eyre::bail!("unknown argument {other}"),
        }
    }
    eprintln!(
        "{} perturbations, seed {}, {} tx/s, blocks of {}",
        config.perturbations, config.seed, config.tx_per_sec, config.block_time
    );
    let outcome = run(&config)?;
    println!("{}", outcome.table());
    let failed = outcome.forks() > 0
        || outcome.lost() > 0
        || outcome.slow_recoveries() > 0
        || outcome.missing > 0
        || outcome.duplicated > 0;
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
