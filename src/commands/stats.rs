use std::io::Write;

use crate::cli::{DataArgs, Format};

/// Print track, artist, album and tag counts of the metadata
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  musav stats\n  musav stats --data path/to/autotagging_moodtheme.tsv --format json"
)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let ds = args.data.load()?;
    let s = ds.stats();
    let mut out = std::io::stdout().lock();
    if args.format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &s)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "tracks         {}", s.tracks)?;
    writeln!(out, "artists        {}", s.artists)?;
    writeln!(out, "albums         {}", s.albums)?;
    writeln!(out, "distinct tags  {}", s.distinct_tags)?;
    for (split, n) in &s.per_split {
        writeln!(out, "  {split:<12} {n}")?;
    }
    writeln!(out, "\ntracks per number of tags")?;
    for (k, n) in &s.tags_per_track {
        writeln!(out, "  {k} → {n}")?;
    }
    writeln!(out, "\n{:<16} {:>7} {:>11}", "tag", "tracks", "single-tag")?;
    let mut per_tag = s.per_tag.clone();
    per_tag.sort_by(|a, b| b.tracks.cmp(&a.tracks).then_with(|| a.tag.cmp(&b.tag)));
    for t in &per_tag {
        writeln!(
            out,
            "{:<16} {:>7} {:>11}",
            t.tag, t.tracks, t.single_tag_tracks
        )?;
    }
    Ok(())
}
