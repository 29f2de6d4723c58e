# A study behind docs/model-card-notes.md. Reads the team's data (never writes into the repo):
#   SHARED (default ../shared/data beside the repo) and writes results under RUNS (default /tmp).
#   Run from the repo root: /work/venv/bin/python tools/torch/studies/colour_statistics.py
import os
SHARED = os.environ.get("SHARED", "../shared/data")
RUNS = os.environ.get("RUNS", "/tmp")
import sys, json, numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import data as D, augment as A
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline
items=D.assign_split(D.discover(SHARED+'/aria-all/Original','all4'),0)
keep=np.ones((224,224),bool); keep[188:,188:]=False
def stats(img):
    v=img[keep].astype(np.float64)/255
    return np.concatenate([v.mean(0),v.std(0),np.percentile(v,10,axis=0),np.percentile(v,90,axis=0)])
S={}; Y={}
shifts=['none','hue:+10','hue:-10','sat:0.85','sat:1.15','gray','hue:+30']
for part in ['train','val']:
    its=[it for it in items if it.split==part]
    Y[part]=np.array([it.label for it in its])
    imgs=[D.decode_rgb(it.path) for it in its]
    for sh in (shifts if part=='val' else ['none']):
        S[(part,sh)]=np.array([stats(A.colour_shift_u8(im,sh)) for im in imgs])
clf=make_pipeline(StandardScaler(),LogisticRegression(max_iter=5000,C=1.0)).fit(S[('train','none')],Y['train'])
res={'linear_12stats_val_acc':{sh:float(clf.score(S[('val',sh)],Y['val'])) for sh in shifts}}
X=S[('train','none')]; mu=X.mean(0); C=np.cov(X.T); C+=1e-3*np.trace(C)/12*np.eye(12); Ci=np.linalg.inv(C)
def dist(Z): d=Z-mu; return np.sqrt(np.einsum('ij,jk,ik->i',d,Ci,d))
dv=dist(S[('val','none')]); thr=1.25*dv.max()
res['mahalanobis']={'train_max':float(dist(X).max()),'val_max':float(dv.max()),'threshold':float(thr),
   'flagged_fraction':{sh:float((dist(S[('val',sh)])>thr).mean()) for sh in shifts},
   'median_distance':{sh:float(np.median(dist(S[('val',sh)]))) for sh in shifts}}
print(json.dumps(res,indent=1))
json.dump(res,open(RUNS+'/colourstats.json','w'),indent=1)
# class-conditional: pooled within-class covariance, distance to the nearest class mean
Ytr=Y['train']
mus=np.stack([X[Ytr==k].mean(0) for k in range(4)])
W=sum(np.cov(X[Ytr==k].T)*(np.sum(Ytr==k)-1) for k in range(4))/(len(X)-4)
W+=1e-3*np.trace(W)/12*np.eye(12); Wi=np.linalg.inv(W)
def dmin(Z):
    ds=[np.sqrt(np.einsum('ij,jk,ik->i',Z-m,Wi,Z-m)) for m in mus]
    return np.min(ds,0)
dv=dmin(S[('val','none')])
for margin in (1.0,1.25):
    thr=margin*dv.max()
    print('class-conditional margin',margin,'thr',round(thr,2),'val max',round(dv.max(),2),{sh:round(float((dmin(S[('val',sh)])>thr).mean()),3) for sh in shifts})
print('median',{sh:round(float(np.median(dmin(S[('val',sh)]))),2) for sh in shifts})
print('val quantiles', np.percentile(dv,[50,90,99,100]).round(2))
out={}
for name,fn in (('global',dist),('class_conditional',dmin)):
    dv=fn(S[('val','none')])
    for q in (99.0,99.5,100.0):
        thr=np.percentile(dv,q)
        out[f'{name}_q{q}']={'threshold':round(float(thr),2),**{sh:round(float((fn(S[('val',sh)])>thr).mean()),3) for sh in shifts}}
        print(name,q,out[f'{name}_q{q}'])
res['ood_threshold_study']=out
json.dump(res,open(RUNS+'/colourstats.json','w'),indent=1)
