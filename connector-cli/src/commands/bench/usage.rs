//! CPU time and peak resident memory of a process, read from Linux's `/proc`.

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on every Linux ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// What a process has used so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// User plus system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// Peak resident set size (`VmHWM`), in bytes; 0 when unknown (an exited process).
    pub peak_rss_bytes: u64,
}

/// This process's usage.
pub fn own() -> Option<Usage> {
    of("self")
}

/// The usage of process `pid` (`None` once it is gone).
pub fn of_pid(pid: u32) -> Option<Usage> {
    of(&pid.to_string())
}

fn of(pid: &str) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let cpu_seconds = cpu_of_stat(&stat)?;
    let peak_rss_bytes = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| hwm_of_status(&s))
        .unwrap_or(0);
    Some(Usage {
        cpu_seconds,
        peak_rss_bytes,
    })
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in seconds. The command name (field 2) may hold
/// spaces and brackets, so fields are counted after its last `)`.
fn cpu_of_stat(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state is field 3, utime 14 and stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    #[allow(clippy::cast_precision_loss)] // clock ticks stay far below 2^52
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// `VmHWM` of a `/proc/<pid>/status` text, in bytes.
fn hwm_of_status(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat =
            "4242 (ml (conn) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 37 0 0 20 0 9 0 100 0 0";
        let cpu = cpu_of_stat(stat).unwrap_or_default();
        assert!((cpu - 2.87).abs() < 1e-9, "{cpu}");
    }

    #[test]
    fn peak_rss_is_read_in_bytes() {
        let status =
            "Name:\tml-connector\nVmPeak:\t  200 kB\nVmHWM:\t   51234 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(hwm_of_status(status), Some(51_234 * 1024));
        assert_eq!(hwm_of_status("Name:\tzombie\n"), None);
    }

    #[test]
    fn this_process_is_measurable() {
        let usage = own().unwrap_or_default();
        assert!(usage.peak_rss_bytes > 0);
    }
}
