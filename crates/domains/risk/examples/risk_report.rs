//! Prints the risk model's figures on the synthetic data set, in markdown, for
//! `docs/BENCHMARKS.md`: `cargo run -p lsn-risk --example risk_report -- [SEED] [ORDERS]`
//! (defaults 1 and 25,000).

fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let n = args.next().and_then(|a| a.parse().ok()).unwrap_or(25_000);
    let started = std::time::Instant::now();
    let report = lsn_risk::synth::report(seed, n);
    print!("{report}");
    eprintln!("(generated, trained and measured in {:.2} s)", started.elapsed().as_secs_f64());
}
