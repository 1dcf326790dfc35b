"""Mel-spectrogram parity fixtures and check against librosa (run through scripts/mel-parity.sh).

fixtures DIR LAME  writes small deterministic WAVs (+ MP3s made with LAME) and librosa's reference
                   mel-spectrograms (*.librosa.npy) that the Rust tests compare against.
mp3 DIR LAME       writes only the stereo MP3 fixtures (stereo_*.mp3) and their references.
compare DIR MUSAV  runs `musav mel` on every parity WAV and the MP3 and prints mean/max |dB difference|.
"""
import os
import subprocess
import sys
import tempfile

import librosa
import numpy as np
import soundfile as sf

SR = 12000
EDGE = 2  # frames at each end left out of the comparison (zero padding meets the resampler's edge)


def reference(path):
    """librosa's mel-spectrogram in the MTG convention (default resampler: soxr_hq)."""
    y, _ = librosa.load(path, sr=SR, mono=True)
    s = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=512, hop_length=256, n_mels=96,
                                       power=2.0, htk=False, norm="slaney", center=True)
    return librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=None).astype(np.float32)


def music(sr, seconds, rng):
    """Chords of harmonic tones with plucked envelopes, a glide and a little noise."""
    t = np.arange(int(sr * seconds)) / sr
    y = np.zeros_like(t)
    notes = [57, 60, 64, 69, 62, 65, 69, 74]
    step = seconds / len(notes)
    for i, m in enumerate(notes):
        f = 440.0 * 2 ** ((m - 69) / 12)
        on = t >= i * step
        tt = np.where(on, t - i * step, 0.0)
        env = np.where(on, np.exp(-tt / 0.4), 0.0)
        for h in range(1, 12):
            if f * h < sr / 2 * 0.95:
                y += env * np.sin(2 * np.pi * f * h * t) / h ** 1.5
    glide = 300 * np.exp(np.log(15) * t / seconds)
    y += 0.2 * np.sin(2 * np.pi * np.cumsum(glide) / sr)
    y += 0.01 * rng.standard_normal(len(t))
    return 0.8 * y / np.max(np.abs(y))


def fixtures(out, lame):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(6)
    y = music(SR, 3.0, rng)
    sf.write(f"{out}/parity_music_12k.wav", y, SR, subtype="PCM_16")
    left = music(44100, 1.0, rng)
    right = np.roll(left, 300) * 0.7
    sf.write(f"{out}/parity_stereo_44k.wav", np.stack([left, right], axis=1), 44100, subtype="PCM_16")
    for name in ("parity_music_12k", "parity_stereo_44k"):
        np.save(f"{out}/{name}.librosa.npy", reference(f"{out}/{name}.wav"))
    # A real MP3 for the decoder test: 1 s of A440 (with two harmonics), mono, 44.1 kHz.
    t = np.arange(44100) / 44100
    tone = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 880 * t)
    with tempfile.TemporaryDirectory() as tmp:
        sf.write(f"{tmp}/tone.wav", tone, 44100, subtype="PCM_16")
        subprocess.run([lame, "--quiet", "-b", "64", "-m", "m", f"{tmp}/tone.wav",
                        f"{out}/tone_440.mp3"], check=True)
    # librosa decodes MP3 through libsndfile/mpg123, which trims LAME's delay and padding.
    np.save(f"{out}/tone_440.librosa.npy", reference(f"{out}/tone_440.mp3"))
    mp3_fixtures(out, lame)
    print(f"wrote fixtures to {out}")


def mp3_fixtures(out, lame):
    """Joint-stereo MP3s whose channels differ, with clicks (LAME switches to short blocks on them)
    and hiss up to 16 kHz, at 44.1 kHz, 32 kHz and 22.05 kHz (MPEG-2): joint stereo, block switching
    and the LAME header's delay and padding at every MPEG version musav's MP3 path must get right."""
    rng = np.random.default_rng(7)
    sr = 44100
    n = 2 * sr
    clicks = np.zeros(n)
    for start in range(sr // 8, n - sr // 20, sr // 4):
        m = sr // 50
        clicks[start:start + m] += rng.standard_normal(m) * np.exp(-np.arange(m) / (m / 6))
    hiss = np.diff(rng.standard_normal(n + 1)) * 0.02
    left = music(sr, 2.0, rng) + 0.5 * clicks + hiss
    right = 0.6 * np.roll(music(sr, 2.0, rng), 500) + 0.3 * np.roll(clicks, sr // 16) - hiss
    stereo = 0.7 * np.stack([left, right], axis=1) / np.max(np.abs([left, right]))
    with tempfile.TemporaryDirectory() as tmp:
        sf.write(f"{tmp}/stereo.wav", stereo, sr, subtype="PCM_16")
        for name, args in (("stereo_44k", ["-b", "128"]),
                           ("stereo_32k", ["--resample", "32", "-b", "96"]),
                           ("stereo_22k", ["--resample", "22.05", "-b", "64"])):
            subprocess.run([lame, "--quiet", "-m", "j", *args, f"{tmp}/stereo.wav",
                            f"{out}/{name}.mp3"], check=True)
            np.save(f"{out}/{name}.librosa.npy", reference(f"{out}/{name}.mp3"))


def compare(out, musav):
    worst = 0.0
    names = sorted(f for f in os.listdir(out) if f.startswith("parity_") and f.endswith(".wav"))
    mp3s = sorted(f for f in os.listdir(out) if f.endswith(".mp3"))
    for name in names + mp3s:
        stem = name[:-4]
        ref = np.load(f"{out}/{stem}.librosa.npy")
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([musav, "mel", f"{out}/{name}", "--out", f"{tmp}/m.npy"], check=True,
                           capture_output=True)
            ours = np.load(f"{tmp}/m.npy")
        assert ours.shape == ref.shape, (name, ours.shape, ref.shape)
        d = np.abs(ours - ref)[:, EDGE:-EDGE]
        worst = max(worst, float(d.mean()))
        print(f"{name}: {ours.shape[0]}x{ours.shape[1]} mean |diff| {d.mean():.4f} dB, "
              f"max {d.max():.4f} dB, p99 {np.percentile(d, 99):.4f} dB")
    return worst


if __name__ == "__main__":
    cmd, out, tool = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "fixtures":
        fixtures(out, tool)
    elif cmd == "mp3":
        mp3_fixtures(out, tool)
    else:
        compare(out, tool)
