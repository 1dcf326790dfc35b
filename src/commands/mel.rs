use std::path::PathBuf;

use anyhow::bail;

use crate::audio::npy::write_mel;
use crate::features::Convention;

/// Write one audio file's mel-spectrogram (96 × frames, dB, float32) as .npy
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  musav mel track.mp3 --out track.npy\n  musav mel clip.wav --out clip.npy --force\n\
                        The parameters are the MTG-Jamendo ones: 12 kHz, frame 512, hop 256, 96 Slaney mel bands, power in dB.\n\
                        --convention mtg (default) reproduces the released .npy files (Essentia); librosa matches\n\
                        librosa's power_to_db(melspectrogram(...)). Decoder warnings go to stderr."
)]
pub struct Args {
    /// Audio file (WAV, MP3, OGG/Vorbis, FLAC)
    pub file: PathBuf,
    /// Output .npy file
    #[arg(long, value_name = "OUT.npy")]
    pub out: PathBuf,
    /// Replace an existing output file
    #[arg(long)]
    pub force: bool,
    /// How the features are computed: mtg (the released .npy files' recipe) or librosa
    #[arg(long, value_enum, default_value_t)]
    pub convention: Convention,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.out.exists() && !args.force {
        bail!(
            "{}: already exists; pass --force to replace it",
            args.out.display()
        );
    }
    let (samples, info) = args.convention.load(&args.file)?;
    for w in &info.warnings {
        eprintln!("musav: warning: {}: {w}", args.file.display());
    }
    let mel = args.convention.mel(&samples);
    write_mel(&args.out, &mel)?;
    println!(
        "wrote {} ({} bands × {} frames, {} convention)",
        args.out.display(),
        mel.nrows(),
        mel.ncols(),
        args.convention
    );
    Ok(())
}
