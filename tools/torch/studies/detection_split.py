"""Does a distance-transform split of touching nuclei improve detection F1 on wbc-seg expert masks?
Truth: 8-connected components (>= 20 px) of the expert nucleus mask (value 255).
Predictions: the expert mask blurred (Gaussian sigma) as a soft probability map, thresholded at 0.5
-> components (baseline), or -> components split at distance-transform peaks (h-maxima, h=2, min peak
separation) by watershed (candidate)."""
# A study behind docs/model-card-notes.md. Reads the team's data (never writes into the repo):
#   SHARED (default ../shared/data beside the repo) and writes results under RUNS (default /tmp).
#   Run from the repo root: /work/venv/bin/python tools/torch/studies/detection_split.py
import os
SHARED = os.environ.get("SHARED", "../shared/data")
RUNS = os.environ.get("RUNS", "/tmp")

import numpy as np, os, json
from PIL import Image
from scipy import ndimage as ndi
root=SHARED+'/wbc-seg/Dataset1'
def boxes(lab):
    out=[]
    for sl in ndi.find_objects(lab):
        if sl is None: continue
        out.append((sl[1].start, sl[0].start, sl[1].stop, sl[0].stop))
    return out
def iou(a,b):
    ix=max(0,min(a[2],b[2])-max(a[0],b[0])); iy=max(0,min(a[3],b[3])-max(a[1],b[1]))
    i=ix*iy; u=(a[2]-a[0])*(a[3]-a[1])+(b[2]-b[0])*(b[3]-b[1])-i
    return i/u if u else 0
def score(pred,truth):
    used=set(); tp=0
    for p in pred:
        best=-1;bv=0.5
        for j,t in enumerate(truth):
            if j in used: continue
            v=iou(p,t)
            if v>bv: bv=v;best=j
        if best>=0: used.add(best); tp+=1
    return tp,len(pred)-tp,len(truth)-tp
def comps(m,minarea=20):
    lab,n=ndi.label(m,structure=np.ones((3,3)))
    areas=np.bincount(lab.ravel())
    keep=areas>=minarea; keep[0]=False
    lab=np.where(keep[lab],lab,0)
    return lab
def dt_split(m,h=2.0,minarea=20):
    lab=comps(m,minarea)
    d=ndi.distance_transform_edt(m)
    # peaks: maxima of the distance map over a (2r+1)^2 window with depth >= rmin, r = 5 px
    rec=np.maximum(d-h,0)
    while True:
        nxt=np.minimum(ndi.grey_dilation(rec,size=(3,3)),d)
        if np.array_equal(nxt,rec): break
        rec=nxt
    pk=(d-rec)>=h-1e-9
    mk,n=ndi.label(pk,structure=np.ones((3,3)))
    inp=(d.max()-d)/max(d.max(),1e-9)*1000
    ws=ndi.watershed_ift(inp.astype(np.uint16),mk.astype(np.int32))
    ws=np.where(lab>0,ws,0)
    return ws
res={}
names=sorted(f for f in os.listdir(root) if f.endswith('.png'))
ncomp=[]
for sigma in (0,1.5,3.0):
    for method in ('cc','dt'):
      for h in ((2.0,4.0) if method=='dt' else (0,)):
          T=[0,0,0]
          for f in names:
              gt=np.asarray(Image.open(f'{root}/{f}').convert('L'))>=192
              truth=boxes(comps(gt))
              if sigma==0 and method=='cc': ncomp.append(len(truth))
              p=ndi.gaussian_filter(gt.astype(float),sigma) if sigma>0 else gt.astype(float)
              m=p>=0.5
              lab=comps(m) if method=='cc' else dt_split(m,h)
              s=score(boxes(lab),truth)
              T=[a+b for a,b in zip(T,s)]
          f1=2*T[0]/(2*T[0]+T[1]+T[2])
          res[f'sigma{sigma}_{method}_h{h}']={'tp':T[0],'fp':T[1],'fn':T[2],'f1':round(f1,4)}
          print(sigma,method,h,res[f'sigma{sigma}_{method}_h{h}'],flush=True)
print('truth components per image:',np.bincount(ncomp))
json.dump(res,open(RUNS+'/dtsplit.json','w'))
