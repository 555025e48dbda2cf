//! A fixed-size log-linear latency histogram: no allocation per sample, ~1.5 %
//! relative precision, microsecond resolution below 128 µs.

/// Sub-buckets per power of two (64 → values keep 7 significant bits).
const SUB: usize = 64;
/// Enough buckets for anything below 2^40 µs.
const BUCKETS: usize = 2 * SUB + 34 * SUB;

/// Latency samples in microseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            max: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < (2 * SUB) as u64 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros() as usize; // ≥ 7
    let shift = e - 6;
    let mant = (v >> shift) as usize; // 64..=127
    (shift * SUB + mant).min(BUCKETS - 1)
}

fn value(i: usize) -> u64 {
    if i < 2 * SUB {
        return i as u64;
    }
    let shift = i / SUB - 1;
    let mant = (i % SUB + SUB) as u64;
    (mant << shift) + ((1u64 << shift) >> 1)
}

impl Histogram {
    /// Records one sample.
    pub fn record(&mut self, micros: u64) {
        self.counts[index(micros)] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The value at quantile `q` (0..=1), in microseconds.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value(i).min(self.max);
            }
        }
        self.max
    }

    /// The largest sample.
    pub fn max(&self) -> u64 {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_two_percent() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v);
        }
        for (q, want) in [(0.5, 5_000.0), (0.99, 9_900.0), (0.999, 9_990.0)] {
            let got = h.quantile(q) as f64;
            assert!((got - want).abs() / want < 0.02, "q{q}: {got} vs {want}");
        }
        assert_eq!(h.quantile(1.0), 10_000);
        assert_eq!(h.total, 10_000);
        let mut small = Histogram::default();
        small.record(3);
        assert_eq!(small.quantile(0.5), 3);
        for v in [0u64, 1, 127, 128, 129, 1 << 20, u64::MAX] {
            let i = index(v);
            assert!(i < BUCKETS);
            if v < (1 << 39) {
                let back = value(i) as f64;
                assert!(back == v as f64 || (back - v as f64).abs() / (v as f64) < 0.02);
            }
        }
    }
}
