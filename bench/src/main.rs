//! `smolchat-bench`: parses flags, runs the benchmark, prints the table (or JSON), and
//! draws the plot. Example: `smolchat-bench --spawn --preset s1 --plot s1.svg`. With
//! `--baseline-server ADDR` it is instead the baseline server the figures are set beside.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use smolchat_bench::{self as bench, plot, Options};

/// smolchat-bench: measures a smolchat server (latency, fan-out, join storms, slow consumers).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    options: Options,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,

    /// Run the baseline server instead of a benchmark: std only, a blocking thread per
    /// client, each line written to every member by the thread that read it (and
    /// --baseline-writers - 1 helpers). Listens on ADDR (e.g. 127.0.0.1:0), prints
    /// `listening on chat://ADDR`, serves until killed.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["Options", "json", "plot"])]
    baseline_server: Option<String>,

    /// With --baseline-server: how many threads write each line, the reader and N - 1
    /// helpers, each an even share of the room, 1 to 64.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        requires = "baseline_server",
        value_parser = clap::value_parser!(u8).range(1..=64)
    )]
    baseline_writers: u8,

    /// Draw the latency distribution and the deliveries timeline into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(addr) = &cli.baseline_server {
        let writers = usize::from(cli.baseline_writers);
        return bench::baseline::run(addr, writers)
            .with_context(|| format!("baseline server on {addr}"));
    }
    let plan = cli.options.plan()?;
    // A `--spawn`ed server runs on as many threads as the server binary would.
    smolchat::server::size_executor(None);
    let report = bench::run(&plan, !cli.json).context("benchmark failed")?;
    if cli.json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    if let Some(path) = &cli.plot {
        plot::write_svg(&report, path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// The flags refer to each other across `Cli` and `Options` (--addr is not required
    /// beside --baseline-server); clap checks that every name they use exists.
    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_baseline_takes_its_writers_and_nothing_of_a_benchmark() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["smolchat-bench"], args].concat());
        let cli = parse(&["--baseline-server", "127.0.0.1:0", "--baseline-writers", "2"]);
        assert_eq!(cli.expect("valid").baseline_writers, 2);
        assert!(parse(&["--baseline-server", "127.0.0.1:0", "--preset", "s1"]).is_err());
        assert!(parse(&["--baseline-writers", "2", "--preset", "s1"]).is_err());
        assert!(parse(&["--baseline-server", "127.0.0.1:0", "--baseline-writers", "0"]).is_err());
    }
}
