//! A tiny seeded random stream whose output never changes between releases of any dependency, so that
//! the same seed always yields byte-identical stores (tests and benchmarks compare runs).

/// SplitMix64: small, fast, and fully specified, which is all a data generator needs.
#[derive(Clone, Debug)]
pub(crate) struct SimRng {
    state: u64,
}

impl SimRng {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A stream derived from a seed and a label, so that independent parts of the generator (customers,
    /// orders, later additions) do not shift each other when one of them draws more numbers.
    pub(crate) fn derived(seed: u64, label: u64) -> Self {
        Self::new(mix(seed, label))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        finalize(self.state)
    }

    /// Uniform in `0..n` (`n` > 0); the modulo bias is irrelevant at these sizes.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = u64::try_from(hi - lo).unwrap_or(u64::MAX).saturating_add(1);
        lo.saturating_add(i64::try_from(self.below(span)).unwrap_or(0))
    }

    /// True with probability `p` (0.0..=1.0).
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        unit(self.next_u64()) < p
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let len = u64::try_from(items.len()).unwrap_or(1);
        &items[usize::try_from(self.below(len)).unwrap_or(0)]
    }

    /// A string of `len` characters from `[0-9a-z]`, for credentials and tokens.
    pub(crate) fn alnum(&mut self, len: usize) -> String {
        const CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        (0..len).map(|_| char::from(*self.pick(CHARS))).collect()
    }
}

fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Stateless hash of two numbers: fault decisions use it with the request counter, so a run with the same
/// seed and the same request order meets the same faults.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    finalize(
        finalize(a ^ 0x5151_7A7A_0F0F_3C3C).wrapping_add(b.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
    )
}

/// Maps a hash to `0.0..1.0`.
pub(crate) fn unit(x: u64) -> f64 {
    // 53 random bits make an exactly representable fraction.
    #[allow(clippy::cast_precision_loss)]
    let v = (x >> 11) as f64 / (1u64 << 53) as f64;
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = SimRng::new(7);
        let mut b = SimRng::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(SimRng::new(8).next_u64(), xs[0]);
    }

    #[test]
    fn range_stays_inside_bounds() {
        let mut r = SimRng::new(1);
        for _ in 0..1000 {
            let v = r.range(-3, 4);
            assert!((-3..=4).contains(&v));
        }
    }
}
