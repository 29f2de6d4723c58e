# A study behind docs/model-card-notes.md. Reads the team's data (never writes into the repo):
#   SHARED (default ../shared/data beside the repo) and writes results under RUNS (default /tmp).
#   Run from the repo root: /work/venv/bin/python tools/torch/studies/weak_mask_overlays.py
import os
SHARED = os.environ.get("SHARED", "../shared/data")
RUNS = os.environ.get("RUNS", "/tmp")
import numpy as np, os, sys
from PIL import Image
root=SHARED+'/aria-all'
T=int(sys.argv[1]) if len(sys.argv)>1 else 60
rows=[]
rng=np.random.default_rng(3)
for c in ['Benign','Early','Pre','Pro']:
    fs=sorted(os.listdir(f'{root}/Original/{c}'))
    for f in rng.choice(fs,2,replace=False):
        o=np.asarray(Image.open(f'{root}/Original/{c}/{f}').convert('RGB'))
        s=np.asarray(Image.open(f'{root}/Segmented/{c}/{f}').convert('RGB'))
        m=s.astype(int).sum(-1)>T
        from scipy import ndimage
        lab,n=ndimage.label(m,structure=np.ones((3,3)))
        if len(sys.argv)>2:
            areas=np.bincount(lab.ravel()); keep=areas>=int(sys.argv[2]); keep[0]=False; m=keep[lab]
        ov=o.copy(); ov[m]=(0.5*ov[m]+0.5*np.array([0,255,0])).astype(np.uint8)
        # outline
        e=m ^ np.pad(m,1)[2:,1:-1] | m ^ np.pad(m,1)[:-2,1:-1] | m ^ np.pad(m,1)[1:-1,2:] | m ^ np.pad(m,1)[1:-1,:-2]
        ov2=o.copy(); ov2[e&m]=[0,255,0]
        rows.append(np.concatenate([o,s,ov,ov2],1))
g=np.concatenate(rows,0)
Image.fromarray(g).save(RUNS+f'/overlays/grid_T{T}_A{sys.argv[2] if len(sys.argv)>2 else 0}.png')
print(g.shape)
