# A study behind docs/model-card-notes.md. Reads the team's data (never writes into the repo):
#   SHARED (default ../shared/data beside the repo) and writes results under RUNS (default /tmp).
#   Run from the repo root: /work/venv/bin/python tools/torch/studies/weak_masks.py
import os
SHARED = os.environ.get("SHARED", "../shared/data")
RUNS = os.environ.get("RUNS", "/tmp")
import numpy as np, os, json
from PIL import Image
from scipy import ndimage
root=SHARED+'/aria-all'
out={}
hist=np.zeros(766,np.int64)
T=[15,30,45,60,90,120,180]
per={c:{t:[] for t in T} for c in ['Benign','Early','Pre','Pro']}
inside={c:{t:[] for t in T} for c in per}
for c in per:
    for f in sorted(os.listdir(f'{root}/Segmented/{c}')):
        s=np.asarray(Image.open(f'{root}/Segmented/{c}/{f}').convert('RGB')).astype(int).sum(-1)
        o=np.asarray(Image.open(f'{root}/Original/{c}/{f}').convert('RGB')).astype(int)
        hist+=np.bincount(s.ravel(),minlength=766)
        for t in T:
            m=s>t
            lab,n=ndimage.label(m,structure=np.ones((3,3)))
            big=(np.bincount(lab.ravel())[1:]>=30).sum() if n else 0
            per[c][t].append((m.mean(), n, big))
            if m.sum()>0:
                # colour agreement: Segmented colour should equal Original colour inside the mask
                seg=np.asarray(Image.open(f'{root}/Segmented/{c}/{f}').convert('RGB')).astype(int)
                inside[c][t].append(np.abs(seg[m]-o[m]).mean())
res={}
for c in per:
    for t in T:
        a=np.array(per[c][t])
        res[f'{c}/{t}']={'mean_fg':round(float(a[:,0].mean()),4),'empty':int((a[:,0]==0).sum()),'lt1pct':int((a[:,0]<0.01).sum()),
          'median_components':float(np.median(a[:,1])),'median_components_ge30px':float(np.median(a[:,2])),
          'mean_abs_diff_seg_vs_orig_inside':round(float(np.mean(inside[c][t])),1) if inside[c][t] else None,'n':len(a)}
json.dump({'hist_sum':hist.tolist(),'res':res},open(RUNS+'/maskstudy.json','w'))
for k,v in res.items(): print(k,v)
