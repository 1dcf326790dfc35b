"""The musav curation pipeline in Python (pandas + scikit-learn), for the speed comparison in
scripts/bench-curation.sh: load split-0 → PPMI tag vectors → PCA → noise + k-means → export with the
shipped label map. Same maths as musav; prints the counts so both runs can be checked to agree."""
import json
import os
import sys
import tomllib

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

root, out = sys.argv[1], sys.argv[2]
meta = os.path.join(root, "data", "mtg-jamendo-moodtheme")
rows = []
for split in ("train", "validation", "test"):
    with open(os.path.join(meta, f"autotagging_moodtheme-{split}.tsv")) as f:
        next(f)
        for line in f:
            p = line.rstrip("\n").split("\t")
            rows.append((p[0], p[1], p[2], p[3], float(p[4]), [t.split("---", 1)[1] for t in p[5:]], split))
tracks = pd.DataFrame(rows, columns=["track_id", "artist_id", "album_id", "path", "duration", "tags", "split"])
tags = sorted({t for ts in tracks.tags for t in ts})
ix = {t: i for i, t in enumerate(tags)}
n = len(tags)
inc = np.zeros((len(tracks), n))
for r, ts in enumerate(tracks.tags):
    inc[r, [ix[t] for t in ts]] = 1.0
co = inc.T @ inc
count = np.diag(co).copy()
with np.errstate(divide="ignore"):
    pmi = np.log(co * len(tracks) / np.outer(count, count))
vec = np.where((co > 0) & ~np.eye(n, dtype=bool), np.maximum(pmi, 0.0), 0.0)
vec /= np.linalg.norm(vec, axis=1, keepdims=True)
pca = PCA(n_components=10, random_state=42).fit(vec)
coords = pca.transform(vec)
d = np.linalg.norm(coords[:, None, :] - coords[None, :, :], axis=2)
np.fill_diagonal(d, np.inf)
nearest = d.min(axis=1)
noise = nearest > 1.4 * np.sort(nearest)[n // 2]
km = KMeans(n_clusters=11, n_init=32, random_state=42).fit(coords[~noise])

with open(os.path.join(root, "data", "labels.toml"), "rb") as f:
    lm = tomllib.load(f)
label_of = {t: (l["id"], l["name"]) for l in lm["labels"] for t in l["tags"]}
single = tracks[tracks.tags.map(len) == 1].copy()
single["tag"] = single.tags.map(lambda ts: ts[0])
keep = single.tag.isin(label_of.keys())
exp = single[keep].copy()
exp["label_id"] = exp.tag.map(lambda t: label_of[t][0])
exp["label"] = exp.tag.map(lambda t: label_of[t][1])
cols = ["track_id", "artist_id", "album_id", "path", "duration", "tag", "label_id", "label", "split"]
os.makedirs(out, exist_ok=True)
exp[cols].to_csv(os.path.join(out, "single_label.csv"), index=False)
exp[cols].to_parquet(os.path.join(out, "single_label.parquet"), index=False)
single[~keep][["track_id", "path", "tag", "split"]].to_csv(os.path.join(out, "noise.csv"), index=False)
summary = {"single_tag_tracks": len(single), "noise_tracks": int((~keep).sum()), "exported": len(exp),
           "clusters": 11, "noise_tags": int(noise.sum()),
           "explained_variance_10": float(pca.explained_variance_ratio_.sum())}
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f)
print(json.dumps(summary))
