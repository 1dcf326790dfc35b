use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;
use serde_json::json;

use crate::cli::{DataArgs, Format};
use crate::curation::labels::LabelMap;
use crate::curation::{self, CurationParams, Representation};

/// Represent the tags, reduce them with PCA and cluster them into label groups
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  musav cluster\n  musav cluster --k 11 --components 10 --seed 42 --out my_labels.toml\n  \
                        musav cluster --format json --coords | jq '.clusters[0]'"
)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub curation: CurationArgs,
    /// Also print each tag's first two PCA coordinates
    #[arg(long)]
    pub coords: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Write the result as a label map (placeholder names) to this file
    #[arg(long, value_name = "MAP")]
    pub out: Option<PathBuf>,
    /// Replace an existing --out file
    #[arg(long)]
    pub force: bool,
}

/// Curation settings as flags; defaults are [`CurationParams::default`].
#[derive(Debug, Clone, clap::Args)]
pub struct CurationArgs {
    /// How each tag becomes a vector
    #[arg(long, value_enum, default_value = "ppmi")]
    pub representation: Representation,
    /// PCA components kept
    #[arg(long, default_value_t = CurationParams::default().components)]
    pub components: usize,
    /// Number of clusters
    #[arg(long, default_value_t = CurationParams::default().k)]
    pub k: usize,
    /// Seed of k-means initialisation
    #[arg(long, default_value_t = CurationParams::default().seed)]
    pub seed: u64,
    /// Noise radius in multiples of the median tag-to-centroid distance
    #[arg(long, default_value_t = CurationParams::default().noise_threshold)]
    pub noise_threshold: f64,
}

impl CurationArgs {
    pub fn params(&self) -> CurationParams {
        CurationParams {
            representation: self.representation,
            components: self.components,
            k: self.k,
            seed: self.seed,
            noise_threshold: self.noise_threshold,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(out) = &args.out
        && out.exists()
        && !args.force
    {
        bail!(
            "{}: a label map already exists there; pass --force to replace it, or choose another --out",
            out.display()
        );
    }
    let ds = args.data.load()?;
    let c = curation::curate(&ds, &args.curation.params())?;
    let single_of = |ts: &[usize]| ts.iter().map(|&t| c.tag_single[t]).sum::<usize>();
    let mut out = std::io::stdout().lock();
    if args.format == Format::Json {
        let tag = |t: usize| {
            let mut v = json!({"tag": c.tags[t], "tracks": c.tag_tracks[t], "single_tag_tracks": c.tag_single[t]});
            if args.coords {
                let (x, y) = c.xy(t);
                v["pc1"] = json!(x);
                v["pc2"] = json!(y);
            }
            v
        };
        let doc = json!({
            "params": c.params,
            "explained_variance_ratio": c.explained_variance_ratio,
            "clusters": c.clusters.iter().enumerate().map(|(i, m)| json!({
                "id": i,
                "single_tag_tracks": single_of(m),
                "tags": m.iter().map(|&t| tag(t)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "noise": c.noise.iter().map(|&t| tag(t)).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        let ev: f64 = c.explained_variance_ratio.iter().sum();
        writeln!(
            out,
            "{} tags, {:?} representation, PCA {} components ({:.1}% variance explained), k-means k={} seed={}",
            c.tags.len(),
            c.params.representation,
            c.params.components,
            100.0 * ev,
            c.params.k,
            c.params.seed
        )?;
        writeln!(
            out,
            "{} clusters, {} noise tags\n",
            c.clusters.len(),
            c.noise.len()
        )?;
        let fmt_tag = |t: usize| {
            let mut s = format!("{} ({}/{})", c.tags[t], c.tag_tracks[t], c.tag_single[t]);
            if args.coords {
                let (x, y) = c.xy(t);
                s.push_str(&format!(" @({x:.3}, {y:.3})"));
            }
            s
        };
        for (i, m) in c.clusters.iter().enumerate() {
            writeln!(out, "cluster {i:>2}  single-tag tracks {:>5}", single_of(m))?;
            writeln!(
                out,
                "    {}",
                m.iter().map(|&t| fmt_tag(t)).collect::<Vec<_>>().join(", ")
            )?;
        }
        writeln!(
            out,
            "noise       single-tag tracks {:>5}",
            single_of(&c.noise)
        )?;
        writeln!(
            out,
            "    {}",
            c.noise
                .iter()
                .map(|&t| fmt_tag(t))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(out, "\n(tag (tracks/single-tag tracks))")?;
    }
    if let Some(path) = &args.out {
        LabelMap::from_curation(&c).save(path)?;
        eprintln!("wrote label map {}", path.display());
    }
    Ok(())
}
