# A study behind docs/model-card-notes.md. Reads the team's data (never writes into the repo):
#   SHARED (default ../shared/data beside the repo) and writes results under RUNS (default /tmp).
#   Run from the repo root: /work/venv/bin/python tools/torch/studies/corner_label.py
import os
SHARED = os.environ.get("SHARED", "../shared/data")
RUNS = os.environ.get("RUNS", "/tmp")
import numpy as np, os
from PIL import Image
root=SHARED+'/aria-all/Original'
A=[];B=[];cnt={}
for c in ['Benign','Early','Pre','Pro']:
    for f in sorted(os.listdir(f'{root}/{c}')):
        a=np.asarray(Image.open(f'{root}/{c}/{f}').convert('RGB')).astype(np.float32)
        reg=a[194:222,193:224]
        red=((reg[...,0]>130)&(reg[...,1]<100)&(reg[...,2]<100)).sum()
        st='red' if red>15 else 'white'
        cnt[(c,st)]=cnt.get((c,st),0)+1
        (A if st=='red' else B).append(a)
print(cnt)
for name,L in [('red',A),('white',B)]:
    m=np.mean(L,0).mean(-1); s=np.std(np.stack(L).mean(-1),0)
    print(name)
    for y in range(188,224):
        print(y,' '.join('%3d'%m[y,x] for x in range(186,224)))
    print(name,'std')
    for y in range(188,224):
        print(y,' '.join('%3d'%s[y,x] for x in range(186,224)))
