"""What scripts/bench-mel.sh and scripts/bench-mtg.sh share: the same 30 s 44.1 kHz stereo clips
(WAV and LAME 192 kbps MP3), `musav features` over them in one process, and the alternating
rounds that compare it with a Python reference per core, printed as a ratio."""
import os
import resource
import subprocess
import time

import numpy as np
import soundfile as sf


def make_clips(tmp, clips, lame):
    """Harmonic tones with a slow tremolo and a little noise, one pitch per clip."""
    rng = np.random.default_rng(0)
    sr = 44100
    t = np.arange(30 * sr) / sr
    paths = {"wav": [], "mp3": []}
    for i in range(clips):
        f0 = 110 * 2 ** (i / 12)
        y = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 8)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
        y = 0.5 * y / np.abs(y).max() + 0.02 * rng.standard_normal(len(t))
        stereo = np.stack([y, np.roll(y, 100)], axis=1)
        wav = f"{tmp}/{i:02}.wav"
        sf.write(wav, stereo, sr, subtype="PCM_16")
        subprocess.run([lame, "--quiet", "-b", "192", wav, f"{tmp}/{i:02}.mp3"], check=True)
        paths["wav"].append(wav)
        paths["mp3"].append(f"{tmp}/{i:02}.mp3")
    return paths


def musav_features(bin, tmp, files, convention):
    """CPU and wall seconds of one `musav features` process over `files`, with a fresh cache so
    nothing is reused. An empty list measures the process's fixed cost (start-up, CLI, reading the
    export), which the Python side does not pay (its imports are warmed up)."""
    exp = f"{tmp}/export-{time.time_ns()}"
    os.makedirs(exp)
    with open(f"{exp}/single_label.csv", "w") as f:
        f.write("track_id,path\n")
        for i, p in enumerate(files):
            f.write(f"track_{i},{os.path.basename(p)}\n")
    cache = f"{tmp}/cache-{time.time_ns()}"
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([bin, "features", "--convention", convention, "--export", exp,
                          "--audio-root", tmp, "--cache", cache],
                         check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert f"{len(files)} extracted" in out, out
    return (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime), wall


def compare(name, reference, bin, tmp, paths, convention, rounds):
    """Prints, per format, `reference(path)` over every clip against `musav features --convention
    convention`. CPU seconds (user + system) are the fair measure on a shared machine (wall time is
    shown too); rounds alternate the two sides and each keeps its best, because a shared
    machine's speed drifts over tens of seconds and would favour whichever side ran first."""
    clips = len(paths["wav"])
    start_cpu = min(musav_features(bin, tmp, [], convention)[0] for _ in range(5))
    print(f"musav process fixed cost (empty track list): {start_cpu * 1e3:.0f} ms CPU")
    for kind in ("wav", "mp3"):
        ref_runs, mus_runs = [], []
        for _ in range(rounds):
            c0, t0 = time.process_time(), time.perf_counter()
            for p in paths[kind]:
                reference(p)
            ref_runs.append((time.process_time() - c0, time.perf_counter() - t0))
            mus_runs.append(musav_features(bin, tmp, paths[kind], convention))
        ref_cpu, ref_wall = min(ref_runs)
        mus_cpu, mus_wall = min(mus_runs)
        per_clip = (mus_cpu - start_cpu) / clips
        print(f"{kind}: {clips} x 30 s clips, 1 thread each: {name} {ref_cpu:.3f} s CPU "
              f"({ref_wall:.3f} s wall); musav --convention {convention} {mus_cpu:.3f} s CPU "
              f"({mus_wall:.3f} s wall, process start and cache writes included)")
        print(f"{kind}: per clip {name} {ref_cpu / clips * 1e3:.1f} ms, musav {mus_cpu / clips * 1e3:.1f} ms "
              f"({per_clip * 1e3:.1f} ms without the process's fixed cost); musav/{name} speed per core "
              f"{ref_cpu / mus_cpu:.1f}x ({ref_cpu / clips / per_clip:.1f}x per clip without the fixed cost)")
