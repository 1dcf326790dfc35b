"""The Python service scripts/bench-serve.sh measures `musav serve` against: what a user would write
without musav (FastAPI + uvicorn + librosa + PyTorch CPU), doing the same work per request.

The network has the shape of the run it is pointed at (run.json: classes, channels, embedding,
chunk frames, input standardisation; va/va_head.json: the VA MLP's width) with random weights:
throughput does not depend on them. Per request, the same work as `musav predict`: decode, 12 kHz
mono, 96-band mel in dB, non-overlapping chunks (the last aligned to the end), 8 chunks per forward
pass, softmax averaged over the chunks, the VA MLP on the averaged embedding and on each chunk's.

Environment: BENCH_RUN (run directory), BENCH_THREADS (model workers and torch threads: the script
passes the same number as musav serve's --workers), BENCH_TORCH_THREADS (torch threads per process,
when they should differ from BENCH_THREADS).
Start: uvicorn bench_serve_app:app --app-dir scripts --port PORT
"""

import asyncio
import io
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import librosa
import numpy as np
import torch
from fastapi import FastAPI, HTTPException, Request
from torch import nn

from torch_resnet import ResNet

SR = 12000
N_FFT = 512
HOP = 256
BATCH = 8

RUN = os.environ["BENCH_RUN"]
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", THREADS)))

with open(os.path.join(RUN, "run.json")) as f:
    run = json.load(f)
NAMES = run["classes"]["names"]
CFG = run["model"]
FRAMES = run["chunk"]["frames"]
NORM = run["chunk"].get("norm")
with open(os.path.join(RUN, "va", "va_head.json")) as f:
    VA_HIDDEN = json.load(f)["config"]["hidden"]


def va_mlp(width, hidden):
    return nn.Sequential(
        nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(hidden // 2, 2),
    )


torch.manual_seed(0)
model = ResNet(len(NAMES), CFG["channels"], CFG["embedding"]).eval()
va_head = va_mlp(CFG["embedding"], VA_HIDDEN).eval()
executor = ThreadPoolExecutor(max_workers=THREADS)
app = FastAPI()


def chunk_starts(n, frames):
    starts, start = [], 0
    while True:
        st = min(start, max(n - frames, 0))
        starts.append(st)
        if st + frames >= n:
            return starts
        start += frames


def predict(data: bytes):
    t0 = time.perf_counter()
    try:
        y, _ = librosa.load(io.BytesIO(data), sr=SR, mono=True)
    except Exception as e:  # soundfile's and audioread's errors alike
        raise HTTPException(415, f"not decodable audio: {e}")
    if len(y) == 0:
        raise HTTPException(415, "empty audio")
    t1 = time.perf_counter()
    mel = librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=CFG["n_mels"]),
        ref=1.0, amin=1e-10, top_db=None,
    ).astype(np.float32)
    if mel.shape[1] < FRAMES:  # shorter than one chunk: repeat it to fill one
        mel = mel[:, np.arange(FRAMES) % mel.shape[1]]
    if NORM:
        mel = (mel - NORM[0]) / NORM[1]
    starts = chunk_starts(mel.shape[1], FRAMES)
    chunks = torch.from_numpy(np.stack([mel[:, s:s + FRAMES] for s in starts]))
    t2 = time.perf_counter()
    with torch.inference_mode():
        emb = torch.cat([model.embed(chunks[i:i + BATCH]) for i in range(0, len(starts), BATCH)])
        probs = torch.softmax(model.classifier(emb), dim=1)
        chunk_va = va_head(emb)
        va = va_head(emb.mean(dim=0, keepdim=True))[0]
    t3 = time.perf_counter()
    mean = probs.mean(dim=0)
    order = torch.argsort(mean, descending=True).tolist()
    hop_s = HOP / SR
    return {
        "top_label": NAMES[order[0]],
        "labels": [{"id": i, "label": NAMES[i], "score": float(mean[i])} for i in order],
        "va": {"valence": float(va[0]), "arousal": float(va[1])},
        "segments": [
            {
                "start_s": round(s * hop_s, 3),
                "end_s": round((s + FRAMES - 1) * hop_s, 3),
                "top_label": NAMES[int(probs[i].argmax())],
                "score": float(probs[i].max()),
                "valence": float(chunk_va[i, 0]),
                "arousal": float(chunk_va[i, 1]),
            }
            for i, s in enumerate(starts)
        ],
        "audio": {"duration_s": round(len(y) / SR, 3), "chunks": len(starts)},
        "timing_ms": {
            "decode": (t1 - t0) * 1e3,
            "features": (t2 - t1) * 1e3,
            "inference": (t3 - t2) * 1e3,
            "total": (t3 - t0) * 1e3,
        },
    }


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@app.post("/v1/predict")
async def predict_route(request: Request):
    """Raw audio bytes (Content-Type: audio/*), or multipart/form-data with a field `audio`."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        if "audio" not in form:
            raise HTTPException(400, "missing form field `audio`")
        data = await form["audio"].read()
    else:
        data = await request.body()
    # Decoding and the network run in the worker pool, off the event loop.
    return await asyncio.get_running_loop().run_in_executor(executor, predict, data)
