use serde::{Deserialize, Serialize};

/// How a tag becomes a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Representation {
    /// Positive pointwise mutual information with every other tag, over tracks (row-normalised).
    /// Rewards tags that co-occur more than their frequencies predict, so frequent tags do not
    /// dominate the geometry.
    Ppmi,
    /// P(other tag | tag): the normalised co-occurrence profile.
    Cooccurrence,
    /// The tag's track-incidence vector (one dimension per track, L2-normalised).
    Incidence,
}

/// Curation settings; checked before any work so a bad value is reported at once, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurationParams {
    pub representation: Representation,
    /// PCA components kept.
    pub components: usize,
    /// Number of k-means clusters.
    pub k: usize,
    pub seed: u64,
    /// A tag is noise when its nearest other tag (in PCA space) is farther than this many times the
    /// median nearest-neighbour distance: it has no neighbourhood, so no cluster to join.
    /// `f64::INFINITY` disables noise.
    pub noise_threshold: f64,
}

impl Default for CurationParams {
    fn default() -> Self {
        CurationParams {
            representation: Representation::Ppmi,
            components: 10,
            k: 11,
            seed: 42,
            noise_threshold: 1.4,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CurationError {
    #[error("--components must be at least 2 (got {0})")]
    TooFewComponents(usize),
    #[error("--components {components} exceeds the number of tags ({tags}); choose at most {tags}")]
    TooManyComponents { components: usize, tags: usize },
    #[error("--k must be at least 1 (got 0)")]
    ZeroClusters,
    #[error("--k {k} exceeds the number of tags ({tags})")]
    TooManyClusters { k: usize, tags: usize },
    #[error("--noise-threshold must be a positive number (got {0})")]
    BadNoiseThreshold(f64),
    #[error(
        "only {kept} tags are not noise, fewer than --k {k}; raise --noise-threshold or lower --k"
    )]
    TooMuchNoise { kept: usize, k: usize },
    #[error("PCA failed: {0}")]
    Pca(String),
    #[error("k-means failed: {0}")]
    KMeans(String),
}

impl CurationParams {
    pub fn check(&self) -> Result<(), CurationError> {
        if self.components < 2 {
            return Err(CurationError::TooFewComponents(self.components));
        }
        if self.k == 0 {
            return Err(CurationError::ZeroClusters);
        }
        if self.noise_threshold.is_nan() || self.noise_threshold <= 0.0 {
            return Err(CurationError::BadNoiseThreshold(self.noise_threshold));
        }
        Ok(())
    }

    /// Checks that need the number of tags.
    pub fn check_for(&self, tags: usize) -> Result<(), CurationError> {
        self.check()?;
        if self.components > tags {
            return Err(CurationError::TooManyComponents {
                components: self.components,
                tags,
            });
        }
        if self.k > tags {
            return Err(CurationError::TooManyClusters { k: self.k, tags });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        CurationParams::default().check_for(56).unwrap();
    }

    #[test]
    fn each_bad_value_is_named() {
        let p = CurationParams::default();
        let e = CurationParams {
            components: 1,
            ..p.clone()
        }
        .check()
        .unwrap_err();
        assert!(e.to_string().contains("--components"));
        let e = CurationParams { k: 0, ..p.clone() }.check().unwrap_err();
        assert!(e.to_string().contains("--k"));
        let e = CurationParams {
            noise_threshold: -1.0,
            ..p.clone()
        }
        .check()
        .unwrap_err();
        assert!(e.to_string().contains("--noise-threshold"));
        let e = CurationParams {
            noise_threshold: f64::NAN,
            ..p.clone()
        }
        .check()
        .unwrap_err();
        assert!(e.to_string().contains("--noise-threshold"));
        let e = CurationParams { k: 60, ..p.clone() }
            .check_for(56)
            .unwrap_err();
        assert!(e.to_string().contains("60"));
        let e = CurationParams {
            components: 57,
            ..p
        }
        .check_for(56)
        .unwrap_err();
        assert!(e.to_string().contains("57"));
    }
}
