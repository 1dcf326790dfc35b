use std::io::Write;
use std::path::PathBuf;

use crate::cli::{DataArgs, Format};
use crate::curation::labels::{LabelMap, default_labels_path};
use crate::export::{self, Policy};

/// Write the single-label set (CSV, Parquet, noise list, summary) for a label map
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  musav export --out out/export\n  \
                        musav export --labels my_labels.toml --out out/export --force\n  \
                        musav export --policy same-label --out out/export-more")]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    /// Label map [default: the reviewed data/labels.toml]
    #[arg(long, value_name = "MAP")]
    pub labels: Option<PathBuf>,
    /// Directory to write (created; must not exist unless --force)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace an existing export directory
    #[arg(long)]
    pub force: bool,
    /// Which tracks get a label
    #[arg(long, value_enum, default_value_t)]
    pub policy: Policy,
    /// Summary format on stdout
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let ds = args.data.load()?;
    let map_path = args.labels.clone().unwrap_or_else(default_labels_path);
    let map = LabelMap::load(&map_path)?;
    let cov = map.coverage(&ds);
    if !cov.unknown.is_empty() {
        eprintln!(
            "musav: warning: {} names tags the data does not have: {}",
            map_path.display(),
            cov.unknown.join(", ")
        );
    }
    if !cov.unmapped.is_empty() {
        eprintln!(
            "musav: warning: {} does not mention these tags; their tracks count as noise: {}",
            map_path.display(),
            cov.unmapped.join(", ")
        );
    }
    let plan = export::plan(&ds, &map, args.policy);
    export::write(&ds, &map, &plan, &args.out, args.force)?;
    let s = &plan.summary;
    let mut out = std::io::stdout().lock();
    if args.format == Format::Json {
        serde_json::to_writer_pretty(&mut out, s)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "single-tag tracks  {}", s.single_tag_tracks)?;
    writeln!(out, "noise tracks       {}", s.noise_tracks)?;
    if s.added_by_policy > 0 {
        writeln!(out, "added by policy    {}", s.added_by_policy)?;
    }
    writeln!(
        out,
        "exported           {} in {} labels",
        s.exported, s.labels
    )?;
    for l in &s.per_label {
        writeln!(out, "  {:>2} {:<28} {:>5}", l.id, l.name, l.tracks)?;
    }
    for (split, n) in &s.per_split {
        writeln!(out, "  {split:<31} {n:>5}")?;
    }
    writeln!(out, "wrote {}", args.out.display())?;
    Ok(())
}
