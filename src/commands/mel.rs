use std::path::PathBuf;

use anyhow::bail;

use crate::audio::decode::load_mono_12k;
use crate::audio::mel::{MelConfig, mel_spectrogram};
use crate::audio::npy::write_mel;

/// Write one audio file's mel-spectrogram (96 × frames, dB, float32) as .npy
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  musav mel track.mp3 --out track.npy\n\
                        The parameters are the MTG-Jamendo ones: 12 kHz, frame 512, hop 256, 96 Slaney mel bands, power in dB.")]
pub struct Args {
    /// Audio file (WAV, MP3, OGG/Vorbis, FLAC)
    pub file: PathBuf,
    /// Output .npy file
    #[arg(long, value_name = "OUT.npy")]
    pub out: PathBuf,
    /// Replace an existing output file
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.out.exists() && !args.force {
        bail!(
            "{}: already exists; pass --force to replace it",
            args.out.display()
        );
    }
    let samples = load_mono_12k(&args.file)?;
    let mel = mel_spectrogram(&samples, &MelConfig::default());
    write_mel(&args.out, &mel)?;
    println!(
        "wrote {} ({} bands × {} frames)",
        args.out.display(),
        mel.nrows(),
        mel.ncols()
    );
    Ok(())
}
