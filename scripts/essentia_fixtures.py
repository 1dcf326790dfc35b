"""Essentia's output for the `mtg` feature convention (run through scripts/essentia-fixtures.sh).

The recipe is the MTG-Jamendo dataset's own `scripts/melspectrograms.py` (full-audio mode), the
one its released `.npy` mel-spectrograms were made with: MonoLoader at 12 kHz with the linear
resampler (resampleQuality=4), centred 512-sample frames every 256 samples, an unnormalised Hann
window, the magnitude spectrum, 96 power mel bands (0-6000 Hz, Slaney mel scale, triangles of
unit area), then 2 x lin2db. It is saved as that script saves it (`pool['mel'].T`: 96 x frames
float32, Fortran order), so the fixtures are also in the released files' layout.

Usage: essentia_fixtures.py AUDIO_FIXTURES_DIR OUT_DIR
"""
import json
import os
import sys

import essentia
import essentia.standard as es
import numpy as np
import soundfile as sf

SR = 12000
FRAME = 512
HOP = 256
BANDS = 96


def load(path):
    return es.MonoLoader(filename=path, sampleRate=SR, resampleQuality=4)()


def mel_bands():
    return es.MelBands(numberBands=BANDS, sampleRate=SR, lowFrequencyBound=0,
                       highFrequencyBound=SR / 2, inputSize=FRAME // 2 + 1, weighting="linear",
                       normalize="unit_tri", warpingFormula="slaneyMel", type="power")


def melspectrogram(audio):
    window = es.Windowing(type="hann", normalized=False, zeroPadding=0)
    spectrum = es.Spectrum()
    bands = mel_bands()
    to_db = es.UnaryOperator(type="lin2db", scale=2)
    pool = essentia.Pool()
    for frame in es.FrameGenerator(audio, frameSize=FRAME, hopSize=HOP, startFromZero=False):
        pool.add("mel", to_db(bands(spectrum(window(frame)))))
    if "mel" not in pool.descriptorNames():
        return np.zeros((BANDS, 0), dtype=np.float32)
    return pool["mel"].T


def filterbank():
    """The band weights, one spectrum bin at a time (type='power' squares a unit bin to 1)."""
    bands = mel_bands()
    w = np.zeros((BANDS, FRAME // 2 + 1), dtype=np.float32)
    for j in range(FRAME // 2 + 1):
        unit = np.zeros(FRAME // 2 + 1, dtype=np.float32)
        unit[j] = 1.0
        w[:, j] = bands(unit)
    return w


def tones(sr, seconds, rng, freqs):
    t = np.arange(int(round(sr * seconds))) / sr
    y = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) / (1 + i)
            for i, f in enumerate(freqs))
    return y + 0.02 * rng.standard_normal(len(t))


def new_clips(out):
    """Clips the audio fixtures lack: 48 kHz stereo, digital silence, shorter than one frame.
    Every one has content above 6 kHz, which the linear resampler folds back into the band."""
    rng = np.random.default_rng(16)
    left = tones(48000, 0.75, rng, [220, 330, 1250, 7300, 15100])
    right = np.roll(tones(48000, 0.75, rng, [277, 554, 2600, 9100]), 200)
    stereo = 0.8 * np.stack([left, right], axis=1) / np.abs([left, right]).max()
    sf.write(f"{out}/stereo_48k.wav", stereo, 48000, subtype="PCM_16")
    y = tones(44100, 1.0, rng, [440, 880, 3520, 8000])
    y = 0.7 * y / np.abs(y).max()
    y[int(0.3 * 44100):int(0.7 * 44100)] = 0.0  # digital silence: exact zeros
    sf.write(f"{out}/silence_44k.wav", y, 44100, subtype="PCM_16")
    short = tones(44100, 0.02, rng, [1000, 7000])
    sf.write(f"{out}/short_44k.wav", 0.5 * short / np.abs(short).max(), 44100, subtype="PCM_16")


def main(audio_dir, out):
    os.makedirs(out, exist_ok=True)
    new_clips(out)
    clips = [f"{audio_dir}/{n}" for n in ("parity_stereo_44k.wav", "parity_music_12k.wav",
                                            "stereo_44k.mp3", "stereo_32k.mp3",
                                            "stereo_22k.mp3", "tone_440.mp3")]
    clips += [f"{out}/{n}" for n in ("stereo_48k.wav", "silence_44k.wav", "short_44k.wav")]
    # The 12 kHz signal itself for a few clips, to test the resampler apart from the mel steps.
    keep_signal = {"parity_stereo_44k.wav", "stereo_48k.wav", "stereo_44k.mp3"}
    manifest = {"essentia": essentia.__version__, "clips": {}}
    for path in clips:
        name = os.path.basename(path)
        stem = name.rsplit(".", 1)[0]
        audio = load(path)
        mel = melspectrogram(audio)
        np.save(f"{out}/{stem}.essentia.npy", mel, allow_pickle=False)
        if name in keep_signal:
            np.save(f"{out}/{stem}.essentia12k.npy", audio.astype(np.float32), allow_pickle=False)
        info = sf.info(path)
        manifest["clips"][name] = {"source_rate": info.samplerate, "channels": info.channels,
                                   "samples_12k": int(len(audio)), "frames": int(mel.shape[1]),
                                   "min_db": float(mel.min()) if mel.size else None,
                                   "max_db": float(mel.max()) if mel.size else None}
        print(f"{name}: {len(audio)} samples at 12 kHz, {mel.shape[0]}x{mel.shape[1]}")
    np.save(f"{out}/melbands.essentia.npy", filterbank(), allow_pickle=False)
    with open(f"{out}/manifest.json", "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
