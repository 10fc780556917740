//! Cutting batches for multi-row statements, so that each shape of statement is prepared once.

/// Most rows in one multi-row statement. A record row binds 21 parameters, so a statement binds at
/// most 2,688: well under the 32,766 SQLite accepts and the 65,535 of PostgreSQL's protocol.
pub(crate) const ROWS_PER_STATEMENT: usize = 128;

/// `items` in the slices a multi-row statement takes, each as long as a power of two, longest first,
/// at most [`ROWS_PER_STATEMENT`]. A batch of any length is written with statements of eight shapes
/// (128, 64, ..., 1 rows) per kind, so each is prepared once per connection and kept, instead of one
/// statement prepared, run once and thrown away per batch.
pub(crate) fn statement_chunks<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let len = items.len().min(ROWS_PER_STATEMENT);
        // The largest power of two not above `len` (`len` is at least 1).
        let shape = 1 << (usize::BITS - 1 - len.leading_zeros());
        let (chunk, rest) = items.split_at(shape);
        items = rest;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::{ROWS_PER_STATEMENT, statement_chunks};

    fn shapes(len: usize) -> Vec<usize> {
        let items: Vec<usize> = (0..len).collect();
        let chunks: Vec<&[usize]> = statement_chunks(&items).collect();
        let rejoined: Vec<usize> = chunks.concat();
        assert_eq!(rejoined, items, "every item once, in order");
        chunks.iter().map(|c| c.len()).collect()
    }

    #[test]
    fn batches_are_cut_into_powers_of_two_longest_first() {
        assert_eq!(shapes(0), Vec::<usize>::new());
        assert_eq!(shapes(1), vec![1]);
        assert_eq!(shapes(7), vec![4, 2, 1]);
        assert_eq!(shapes(128), vec![128]);
        assert_eq!(shapes(500), vec![128, 128, 128, 64, 32, 16, 4]);
        let mut seen = std::collections::BTreeSet::new();
        for len in 0..=1_000 {
            seen.extend(shapes(len));
        }
        assert_eq!(seen.len(), 8, "{seen:?}");
        assert!(
            seen.iter()
                .all(|&n| n.is_power_of_two() && n <= ROWS_PER_STATEMENT)
        );
    }
}
