//! CPU time and memory from /proc: the server's (with `--server-pid`, or its threads when it
//! runs in-process) and the generator's own, so a reader can tell who was the bottleneck.

use std::fs;
use std::io;
use std::time::Duration;

use serde::Serialize;

/// A process's memory and CPU time at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Resident memory, in bytes.
    pub rss_bytes: u64,
    /// Resident anonymous memory (`RssAnon`), in bytes: the RSS without the binary's file
    /// pages, whose count follows the page cache rather than the server's work. `None`
    /// where the kernel does not report it.
    pub anon_bytes: Option<u64>,
    /// User plus system CPU time so far.
    pub cpu: Duration,
}

/// One reading of both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Reading {
    /// CPU time the generator has used so far.
    pub generator_cpu: Duration,
    /// The server's usage, when it can be seen.
    pub server: Option<Usage>,
}

/// Where the server's figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meter {
    /// The server is another process; the generator is this whole process.
    Process(u32),
    /// The server cannot be seen; the generator is this whole process.
    Blind,
    /// The server runs in this process: its threads are told apart by name, and the memory
    /// figure is the whole process's (server and generator together).
    InProcess,
}

/// Threads that belong to the in-process server: its own, smol's global executor's (the
/// generator never spawns on the global executor) and the fan-out threads that share its
/// flushes' writes.
pub fn is_server_thread(name: &str) -> bool {
    name == crate::local_server::THREAD_NAME
        || name.starts_with("smol-")
        || name.starts_with("fan-out-")
}

impl Meter {
    /// Reads both sides now. A side that cannot be read (the server exited) is `None`
    /// or zero rather than an error: the run's other figures still stand.
    pub fn read(self) -> Reading {
        match self {
            Meter::Process(pid) => Reading {
                generator_cpu: own_usage().map_or(Duration::ZERO, |u| u.cpu),
                server: process_usage(&pid.to_string()).ok(),
            },
            Meter::Blind => Reading {
                generator_cpu: own_usage().map_or(Duration::ZERO, |u| u.cpu),
                server: None,
            },
            Meter::InProcess => {
                let split = thread_cpu(is_server_thread).ok();
                let whole = own_usage().ok();
                Reading {
                    generator_cpu: split.map_or(Duration::ZERO, |(_, other)| other),
                    server: whole.zip(split).map(|(whole, (server, _))| Usage {
                        rss_bytes: whole.rss_bytes,
                        anon_bytes: whole.anon_bytes,
                        cpu: server,
                    }),
                }
            }
        }
    }
}

/// This process's usage.
fn own_usage() -> io::Result<Usage> {
    process_usage("self")
}

/// The usage of `/proc/<pid>`.
fn process_usage(pid: &str) -> io::Result<Usage> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields = StatFields::parse(&stat).ok_or_else(|| malformed(pid))?;
    Ok(Usage {
        rss_bytes: fields.rss_pages.saturating_mul(page_size()),
        anon_bytes: anon_usage(pid),
        cpu: fields.cpu(),
    })
}

/// The anonymous memory of `/proc/<pid>`, if its status file says it.
fn anon_usage(pid: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    rss_anon_bytes(&status)
}

/// The `RssAnon:` line of a `/proc/.../status` text, in bytes (the kernel's "kB" are
/// KiB). `None` when the line is missing (kernels before 4.5) or not a number of kB.
fn rss_anon_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|line| line.strip_prefix("RssAnon:"))?;
    let mut words = line.split_whitespace();
    let kib = words.next()?.parse::<u64>().ok()?;
    (words.next()? == "kB").then(|| kib.saturating_mul(1024))
}

/// CPU time of this process's threads, split into those whose name matches and the rest.
fn thread_cpu(matches: impl Fn(&str) -> bool) -> io::Result<(Duration, Duration)> {
    let (mut matched, mut other) = (Duration::ZERO, Duration::ZERO);
    for entry in fs::read_dir("/proc/self/task")? {
        // A thread may end between the listing and the read; it is simply skipped.
        let Ok(stat) = fs::read_to_string(entry?.path().join("stat")) else { continue };
        let Some(fields) = StatFields::parse(&stat) else { continue };
        if matches(fields.name) {
            matched += fields.cpu();
        } else {
            other += fields.cpu();
        }
    }
    Ok((matched, other))
}

/// The fields of a `/proc/.../stat` line that the bench uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StatFields<'a> {
    /// The command or thread name, between the parentheses.
    name: &'a str,
    /// User CPU time, in clock ticks.
    utime: u64,
    /// System CPU time, in clock ticks.
    stime: u64,
    /// Resident set size, in pages.
    rss_pages: u64,
}

impl<'a> StatFields<'a> {
    /// Parses a stat line; the name may itself hold spaces and parentheses, so the fields
    /// are counted from the last `)`.
    fn parse(stat: &'a str) -> Option<StatFields<'a>> {
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let name = stat.get(open + 1..close)?;
        // After the name come field 3 (state) onwards; utime is field 14, stime 15, rss 24.
        let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some(StatFields { name, utime: field(14)?, stime: field(15)?, rss_pages: field(24)? })
    }

    fn cpu(&self) -> Duration {
        ticks(self.utime.saturating_add(self.stime))
    }
}

/// Clock ticks as a duration.
fn ticks(count: u64) -> Duration {
    let per_second = rustix::param::clock_ticks_per_second().max(1);
    Duration::from_nanos(count.saturating_mul(1_000_000_000 / per_second))
}

fn page_size() -> u64 {
    u64::try_from(rustix::param::page_size()).unwrap_or(4096)
}

fn malformed(pid: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("unreadable /proc/{pid}/stat"))
}

/// The 1, 5 and 15 minute load averages, from /proc/loadavg.
pub fn load_average() -> Option<[f64; 3]> {
    let text = fs::read_to_string("/proc/loadavg").ok()?;
    let mut numbers = text.split_whitespace().map(|s| s.parse::<f64>().ok());
    Some([numbers.next()??, numbers.next()??, numbers.next()??])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_is_read_from_after_the_name() {
        let stat = "4242 (smol chat) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 50 0 0 20 0 3 0 12345 1000000 2560 18446744073709551615";
        let fields = StatFields::parse(stat).expect("parses");
        assert_eq!(fields.name, "smol chat) x");
        assert_eq!((fields.utime, fields.stime, fields.rss_pages), (250, 50, 2560));
    }

    #[test]
    fn anonymous_memory_is_read_from_its_status_line() {
        let status = "Name:\tsmolchat-server\nVmRSS:\t    7204 kB\nRssAnon:\t     892 kB\n\
                      RssFile:\t    6312 kB\nRssShmem:\t       0 kB\nThreads:\t3\n";
        assert_eq!(rss_anon_bytes(status), Some(892 * 1024));
    }

    #[test]
    fn an_old_kernel_without_rss_anon_gives_none() {
        let status = "Name:\tsmolchat-server\nVmRSS:\t    7204 kB\nThreads:\t3\n";
        assert_eq!(rss_anon_bytes(status), None);
        assert_eq!(rss_anon_bytes("RssAnon:\tmany kB\n"), None);
    }

    #[test]
    fn the_fan_out_threads_are_the_servers() {
        assert!(is_server_thread("smol-1"));
        assert!(is_server_thread("fan-out-1"));
        assert!(!is_server_thread("bench-0"));
    }

    #[test]
    fn this_process_can_be_read() {
        let usage = own_usage().expect("own /proc/self/stat");
        assert!(usage.rss_bytes > 0);
        // A kernel without `RssAnon` gives `None`; one with it, some anonymous memory.
        assert!(usage.anon_bytes.is_none_or(|anon| anon > 0));
        let (_, rest) = thread_cpu(|_| false).expect("threads");
        assert!(rest <= usage.cpu + Duration::from_secs(1));
        assert!(load_average().is_some());
    }
}
