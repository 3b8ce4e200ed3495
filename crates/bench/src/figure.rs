//! One measured figure over several runs: every run's value, its median and its range. The
//! machines are shared, so a single value means little; the spread says how much.

use serde::{Deserialize, Serialize};

use crate::probe::round3;

/// A figure's runs and their summary (same unit as the runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// The median of the runs (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest run.
    pub min: f64,
    /// The largest run.
    pub max: f64,
    /// Every run's value, in run order.
    pub runs: Vec<f64>,
}

impl Figure {
    /// Summarises `runs` (zeros when there are none), rounded to 1/1000 of the unit.
    pub fn of(runs: Vec<f64>) -> Self {
        let runs: Vec<f64> = runs.into_iter().map(round3).collect();
        let (median, min, max) = summary(&runs);
        Self {
            median: round3(median),
            min,
            max,
            runs,
        }
    }

    /// `median (min–max)` with `decimals` digits, as the tables print a figure.
    pub fn display(&self, decimals: usize) -> String {
        if self.runs.len() < 2 {
            return format!("{:.decimals$}", self.median);
        }
        format!(
            "{:.decimals$} ({:.decimals$}–{:.decimals$})",
            self.median, self.min, self.max
        )
    }
}

/// (median, min, max) of `values`; zeros for no values. The median of an even count is the
/// mean of the middle two.
pub(crate) fn summary(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return (0.0, 0.0, 0.0);
    }
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    (median, sorted[0], sorted[n - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_odd_and_even_counts() {
        let f = Figure::of(vec![3.0, 1.0, 2.0]);
        assert_eq!((f.median, f.min, f.max), (2.0, 1.0, 3.0));
        assert_eq!(f.runs, [3.0, 1.0, 2.0]);
        assert_eq!(f.display(1), "2.0 (1.0–3.0)");
        let f = Figure::of(vec![4.0, 1.0]);
        assert_eq!(f.median, 2.5);
        // Runs are kept to 1/1000 of the unit; display rounds further.
        assert_eq!(Figure::of(vec![1.23456]).runs, [1.235]);
        assert_eq!(Figure::of(vec![1.2341]).display(2), "1.23");
        assert_eq!(Figure::of(Vec::new()).median, 0.0);
    }
}
