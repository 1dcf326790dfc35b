//! Per-tag lookups for the details pane, built once when the data loads so that drawing a frame
//! never scans the 18k tracks.

use crate::dataset::{Dataset, TagId};

/// Tracks of each tag (single-tag tracks first, as they are the ones an export keeps) and the
/// tag-by-tag co-occurrence counts.
#[derive(Debug, Clone, Default)]
pub struct TagIndex {
    tracks: Vec<Vec<usize>>,
    cooc: Vec<Vec<usize>>,
}

impl TagIndex {
    pub fn build(dataset: &Dataset) -> TagIndex {
        let n = dataset.tags.len();
        let mut single = vec![Vec::new(); n];
        let mut multi = vec![Vec::new(); n];
        let mut cooc = vec![vec![0; n]; n];
        for (i, t) in dataset.tracks.iter().enumerate() {
            for &a in &t.tags {
                if t.tags.len() == 1 {
                    single[a].push(i);
                } else {
                    multi[a].push(i);
                }
                for &b in &t.tags {
                    if a != b {
                        cooc[a][b] += 1;
                    }
                }
            }
        }
        let tracks = single
            .into_iter()
            .zip(multi)
            .map(|(mut s, m)| {
                s.extend(m);
                s
            })
            .collect();
        TagIndex { tracks, cooc }
    }

    /// Up to `n` track indices carrying `tag`, single-tag tracks first.
    pub fn sample_tracks(&self, tag: TagId, n: usize) -> &[usize] {
        self.tracks
            .get(tag)
            .map_or(&[][..], |v| &v[..v.len().min(n)])
    }

    /// The `n` tags most often on the same track as `tag`, with the number of shared tracks.
    pub fn top_cooccurring(&self, tag: TagId, n: usize) -> Vec<(TagId, usize)> {
        let Some(row) = self.cooc.get(tag) else {
            return Vec::new();
        };
        let mut v: Vec<(TagId, usize)> = row
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(t, &c)| (t, c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}
